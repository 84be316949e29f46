"""Short ids: wherever a task, worker or token id is taken, an unambiguous beginning of
one will do. Exactly one match is that id (a whole id always is itself); several are a
usage error (exit 2) that lists them; none is not found (exit 3).

Task ids are looked up by the master (`GET /api/tasks?id_prefix=`, only the caller's own
tasks, an admin's: everyone's); workers and tokens are few, so their lists are read and
matched here."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cloudai.cli.client import Client, CliError

SHOWN = 10  # candidates listed for an ambiguous prefix
_WHOLE_TASK_ID = re.compile(r"task-[0-9a-f]{16}")  # asked for as it is: no lookup first


class Ambiguous(CliError):
    """A prefix of several ids (exit status 2: the command line needs more of the id)."""


class NoMatch(CliError):
    """A prefix of no id (exit status 3, as a missing id is)."""


def pick(word: str, ids: Iterable[str], kind: str, more: bool = False) -> str:
    """The one id `word` names among `ids`; `more`: there may be further matches."""
    if not word:
        raise NoMatch(f"no {kind} id given")
    matches = list(dict.fromkeys(i for i in ids if i.startswith(word)))
    if word in matches:
        return word
    if len(matches) == 1 and not more:
        return matches[0]
    if not matches:
        raise NoMatch(f"{kind} {word} not found (no {kind} id starts with it)")
    shown = matches[:SHOWN]
    listed = "\n".join(f"  {i}" for i in shown)
    rest = "\n  …" if more or len(matches) > SHOWN else ""
    raise Ambiguous(f"{word!r} matches more than one {kind}; give more of the id:\n{listed}{rest}")


def task(client: Client, word: str) -> str:
    """The task id `word` stands for."""
    if _WHOLE_TASK_ID.fullmatch(word):
        return word
    page = client.list_tasks(limit=SHOWN + 1, id_prefix=word) if word else {"tasks": []}
    found = [str(t["task_id"]) for t in page["tasks"]]
    matching = [i for i in found if i.startswith(word)]  # a master without id_prefix: all
    return pick(word, matching[:SHOWN], "task", more=len(matching) > SHOWN)


def worker(client: Client, word: str, missing_ok: bool = False) -> str:
    """The worker id `word` stands for; `missing_ok`: a word that matches none is taken
    as it is (a task may name a worker that has not registered yet)."""
    known = [str(w["worker_id"]) for w in client.workers()["workers"]]
    try:
        return pick(word, known, "worker")
    except NoMatch:
        if missing_ok and word:
            return word
        raise


def token(client: Client, word: str) -> str:
    return pick(word, (str(t["token_id"]) for t in client.tokens()["tokens"]), "token")
