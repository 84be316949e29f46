"""What the CLI proposes to the user: the verb meant by a typo (never a process command),
and the task and worker ids it completes, for bash/zsh/fish and for `cloudai shell`.

Light on purpose: no prompt_toolkit here, and the master is asked only when a completion
needs an id (briefly cached, short timeout, silent on any failure)."""

from __future__ import annotations

import difflib
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from typer.core import TyperGroup

from cloudai.cli.client import Client, CliError
from cloudai.cli.contexts import load_credentials, read

IdPair = tuple[str, str]  # (id, a short description shown beside it)


def close_matches(word: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """The candidates nearest to `word`, best first (difflib's ratio, 0.7 or more)."""
    return difflib.get_close_matches(word, list(candidates), n=limit, cutoff=0.7)


def unknown_command(word: str, candidates: Iterable[str]) -> str:
    """`No such command 'workrs'. Did you mean 'workers'?`"""
    matches = close_matches(word, candidates)
    message = f"No such command {word!r}."
    if not matches:
        return message
    quoted = [repr(m) for m in matches]
    alternatives = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"{message} Did you mean {alternatives}?"


class SuggestingGroup(TyperGroup):
    """The `cloudai` group: an unknown command is a usage error (exit 2) that suggests the
    user verbs it is closest to. Commands in `unsuggested` (the process commands: `worker`
    starts a daemon, it is never what `workrs` meant) and hidden ones are never proposed."""

    unsuggested: ClassVar[frozenset[str]] = frozenset()

    def user_verbs(self) -> list[str]:
        return [
            name
            for name, command in self.commands.items()
            if name not in self.unsuggested and not getattr(command, "hidden", False)
        ]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        word = args[0] if args else ""
        if (
            word
            and not word.startswith("-")
            and not ctx.resilient_parsing
            and self.get_command(ctx, word) is None
        ):
            ctx.fail(unknown_command(word, self.user_verbs()))
        return super().resolve_command(ctx, args)


@dataclass
class _Cached:
    at: float
    pairs: list[IdPair] = field(default_factory=list)


class RecentIds:
    """Task ids (the user's newest, GET /api/tasks) and worker ids (GET /api/workers),
    each kept `ttl_s` seconds. A master that is down, slow or refuses the login yields no
    ids, never an error: a completion must not get in the way of typing."""

    def __init__(
        self,
        ttl_s: float = 5.0,
        timeout_s: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
        client: Callable[[float], Client] | None = None,
    ) -> None:
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._client = client or _stored_login_client
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def tasks(self) -> list[IdPair]:
        return self._get("tasks", _task_pairs)

    def workers(self) -> list[IdPair]:
        return self._get("workers", _worker_pairs)

    def forget(self) -> None:
        """Drop what is cached (after a login or logout the ids are someone else's)."""
        with self._lock:
            self._cache.clear()

    def _get(self, kind: str, fetch: Callable[[Client], list[IdPair]]) -> list[IdPair]:
        with self._lock:
            cached = self._cache.get(kind)
            now = self._clock()
            if cached is not None and now - cached.at < self.ttl_s:
                return cached.pairs
            try:
                with self._client(self.timeout_s) as client:
                    pairs = fetch(client)
            except (CliError, OSError, KeyError, TypeError, ValueError):
                pairs = []  # remembered too: an unreachable master is not asked per key
            self._cache[kind] = _Cached(now, pairs)
            return pairs


def _stored_login_client(timeout_s: float) -> Client:
    credentials = load_credentials()
    return Client(credentials.url, credentials.access_token, timeout=timeout_s)


def _task_pairs(client: Client) -> list[IdPair]:
    tasks = client.list_tasks(limit=50)["tasks"]
    return [
        (str(t["task_id"]), " ".join(str(v) for v in (t.get("status"), t.get("name")) if v))
        for t in tasks
    ]


def _worker_pairs(client: Client) -> list[IdPair]:
    workers = client.workers()["workers"]
    return [(str(w["worker_id"]), str(w.get("status") or "")) for w in workers]


RECENT = RecentIds()  # one per process: the shell's completer and typer's callbacks share it


def starting_with(pairs: Sequence[IdPair], incomplete: str) -> list[IdPair]:
    return [pair for pair in pairs if pair[0].startswith(incomplete)]


def complete_task_id(incomplete: str) -> list[IdPair]:
    """Typer `autocompletion` for TASK_ID arguments."""
    return starting_with(RECENT.tasks(), incomplete)


def complete_context_name(incomplete: str) -> list[IdPair]:
    """Typer `autocompletion` for context names (`--context`, `context use`)."""
    try:
        stored = read()
    except CliError:
        return []
    return starting_with([(c.name, c.url) for c in stored.items.values()], incomplete)


def complete_worker_id(incomplete: str) -> list[IdPair]:
    """Typer `autocompletion` for WORKER_ID arguments and --worker."""
    return starting_with(RECENT.workers(), incomplete)


# --- completing a command line (`cloudai shell`) -------------------------------------
# The click command tree typer builds is read through its public attributes (commands,
# params, opts, nargs, is_flag); values come from each parameter's own shell_complete,
# the one bash/zsh/fish use: choices, and the id callbacks above.

SHELL_WORDS: dict[str, str] = {"help": "Help on a command: help COMMAND", "exit": "Leave the shell"}


def split_line(text: str) -> tuple[list[str], str]:
    """The finished words before the cursor and the one being typed, by shell rules (an
    open quote counts as closed)."""
    for closing in ("", '"', "'"):
        try:
            words = shlex.split(text + closing)
        except ValueError:
            continue
        if closing == "" and (not text or text[-1].isspace()) and not text.endswith("\\ "):
            return words, ""
        return (words[:-1], words[-1]) if words else ([], "")
    return [], ""


def complete(root: Any, words: Sequence[str], incomplete: str,
             excluded: frozenset[str] = frozenset()) -> list[IdPair]:  # fmt: skip
    """What may follow `words` starting with `incomplete`: (value, description) pairs."""
    given = list(words[1:] if words[:1] == ["cloudai"] else words)
    if given[-1:] == ["--context"] and not without_globals(given[:-1]):
        return complete_context_name(incomplete)  # `cloudai --context <TAB>`
    words = without_globals(given)
    commands = {
        name: command
        for name, command in root.commands.items()
        if name not in excluded and not getattr(command, "hidden", False)
    }
    verbs = [(name, _short_help(command)) for name, command in commands.items()]
    if not words:
        if incomplete.startswith("-"):
            return _prefixed([("--help", "Show the help"), ("--version", "Print the version"),
                              ("--context", "Use this stored login")], incomplete)  # fmt: skip
        return _prefixed([*verbs, *SHELL_WORDS.items()], incomplete)
    name, rest = words[0], words[1:]
    if name == "help":
        return [] if rest else _prefixed(verbs, incomplete)
    command = commands.get(name)
    if command is None:
        return []
    if hasattr(command, "commands"):  # a group of its own: `context use`, `tokens revoke`
        if not rest:
            subverbs = [(n, _short_help(c)) for n, c in command.commands.items()]
            return _prefixed(subverbs, incomplete)
        sub = command.commands.get(rest[0])
        return [] if sub is None else _complete_params(sub, rest[0], rest[1:], incomplete)
    return _complete_params(command, name, rest, incomplete)


GLOBAL_OPTIONS = ("--context",)  # the root's options that take a value


def without_globals(words: list[str]) -> list[str]:
    """The words from the verb on: `--context prod logs …` -> `logs …`."""
    while words and words[0].partition("=")[0] in GLOBAL_OPTIONS:
        words = words[1:] if "=" in words[0] else words[2:]
    return words


def _complete_params(command: Any, name: str, rest: list[str], incomplete: str) -> list[IdPair]:
    params = list(getattr(command, "params", []))
    options = {
        opt: p for p in params if p.param_type_name == "option"
        for opt in (*p.opts, *p.secondary_opts)
    }  # fmt: skip
    leading = getattr(command, "leading", None)  # TaskCommand: then the task's own command
    positional, pending, used, literal = 0, None, set(), False
    for word in rest:
        if pending is not None:
            pending = None
        elif word == "--" and not literal:
            literal = True
        elif not literal and word.startswith("-") and word != "-":
            flag, eq, _ = word.partition("=")
            param = options.get(flag)
            if param is not None:
                used.add(param.name)
                pending = None if eq or not _takes_value(param) else param
        else:
            positional += 1
            if leading is not None and positional > leading:
                return []
    if pending is not None:
        return _values(command, name, pending, incomplete)
    if incomplete.startswith("-") and not literal:
        flag, eq, partial = incomplete.partition("=")
        if eq and flag in options:
            values = _values(command, name, options[flag], partial)
            return [(f"{flag}={value}", meta) for value, meta in values]
        offered = [
            (opt, _help(p)) for opt, p in options.items()
            if not getattr(p, "hidden", False) and (getattr(p, "multiple", False)
                                                    or p.name not in used)
        ]  # fmt: skip
        return _prefixed([*offered, ("--help", "Show the help")], incomplete)
    if leading is not None and positional >= leading:
        return []
    argument = _argument_at([p for p in params if p.param_type_name == "argument"], positional)
    return [] if argument is None else _values(command, name, argument, incomplete)


def _takes_value(param: Any) -> bool:
    return not getattr(param, "is_flag", False) and not getattr(param, "count", False)


def _argument_at(arguments: list[Any], index: int) -> Any:
    for argument in arguments:
        if argument.nargs < 0 or index < argument.nargs:
            return argument
        index -= argument.nargs
    return None


def _values(command: Any, name: str, param: Any, incomplete: str) -> list[IdPair]:
    try:
        ctx = command.make_context(name, [], resilient_parsing=True)
        items = param.shell_complete(ctx, incomplete)
    except Exception:  # a completion never breaks the line being typed
        return []
    return [
        (str(item.value), str(getattr(item, "help", None) or ""))
        for item in items
        if getattr(item, "type", "plain") == "plain"
    ]


def _prefixed(pairs: Iterable[IdPair], incomplete: str) -> list[IdPair]:
    return [pair for pair in pairs if pair[0].startswith(incomplete)]


def _short_help(command: Any) -> str:
    try:
        return str(command.get_short_help_str(limit=60))
    except Exception:
        return ""


def _help(param: Any) -> str:
    text = str(getattr(param, "help", None) or "")
    return text.split(". ")[0].rstrip(".")[:60]
