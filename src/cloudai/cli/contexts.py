"""The CLI's logins: one per named context (as kubectl's and docker's), kept in
credentials.json (mode 0600, in a 0700 directory), one of them current:

    {"current": "prod", "contexts": {"prod": {"url": "https://…", "access_token": "…",
                                              "user": "ada@example.com"}}}

A file in the old single-login shape (`{"url": …, "access_token": …}`) is read as one
context named after its master (`host:port`), current, and is rewritten in this shape by
the next change (login, logout, `context use`, `context remove`).

Which login a command uses: `--context NAME` (or CLOUDAI_CONTEXT) names one outright;
otherwise the current context, with CLOUDAI_URL and CLOUDAI_TOKEN overriding its URL and
token (with both set, no stored login is needed at all)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cloudai.cli.client import DEFAULT_URL, CliError, NotLoggedIn, config_dir, ensure_config_dir
from cloudai.fileutil import write_atomically

CREDENTIALS_FILE = "credentials.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,99}")


class UnknownContext(CliError):
    """No context of that name (exit status 3, like any name that is not found)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    url: str
    access_token: str
    context: str | None = None  # None: from CLOUDAI_URL and CLOUDAI_TOKEN alone


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    url: str
    access_token: str | None = None  # None once logged out
    user: str = ""


@dataclass(slots=True)
class Contexts:
    current: str | None = None
    items: dict[str, Context] = field(default_factory=dict)

    def get(self, name: str) -> Context:
        try:
            return self.items[name]
        except KeyError:
            known = ", ".join(sorted(self.items)) or "none yet"
            raise UnknownContext(
                f"no context {name!r} (known: {known}); see `cloudai context list`"
            ) from None

    def named_for(self, url: str) -> str:
        """The context a login to `url` goes to when none is named: the current one if
        it is for that master, else another for it, else a new one named `host:port`."""
        if self.current in self.items and self.items[self.current].url == url:
            return self.current
        same = [c.name for c in self.items.values() if c.url == url]
        return same[0] if same else name_of(url)


_selected: str | None = None  # the global --context (or CLOUDAI_CONTEXT)


def select(name: str | None) -> None:
    """Use this context, whatever is current, for the rest of the process (None: the
    current one again)."""
    global _selected
    _selected = name


def selected() -> str | None:
    return _selected


def name_of(url: str) -> str:
    """`https://ci.example:8443/` -> `ci.example:8443`: a context's default name."""
    parts = urlsplit(url)
    return parts.netloc or url


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a context name (letters, digits and ._:@/+-, up to 100)")
    return name


def path() -> Path:
    return config_dir() / CREDENTIALS_FILE


def read() -> Contexts:
    """The stored contexts (none when there is no file yet)."""
    where = path()
    try:
        stored = json.loads(where.read_text())
    except FileNotFoundError:
        return Contexts()
    except (OSError, ValueError) as exc:
        raise NotLoggedIn(f"cannot read {where} ({exc}); run `cloudai login` again") from None
    try:
        return _decode(stored)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise NotLoggedIn(f"cannot read {where} ({exc!r}); run `cloudai login` again") from None


def _decode(stored: dict[str, Any]) -> Contexts:
    if "contexts" not in stored:  # the single login of earlier versions
        url = str(stored["url"])
        name = name_of(url)
        return Contexts(name, {name: Context(name, url, str(stored["access_token"]))})
    items = {
        str(name): Context(
            str(name), str(c["url"]),
            None if c.get("access_token") is None else str(c["access_token"]),
            str(c.get("user") or ""),
        )
        for name, c in stored["contexts"].items()
    }  # fmt: skip
    current = stored.get("current")
    return Contexts(str(current) if current in items else None, items)


def read_or_empty() -> Contexts:
    """For a login: a file that cannot be read is replaced, not an obstacle."""
    try:
        return read()
    except NotLoggedIn:
        return Contexts()


def write(contexts: Contexts) -> Path:
    """Replace the file in one step, mode 0600 from its first byte."""
    where = ensure_config_dir() / CREDENTIALS_FILE
    record = {
        "current": contexts.current,
        "contexts": {
            c.name: {"url": c.url, "access_token": c.access_token, "user": c.user}
            for c in contexts.items.values()
        },
    }
    write_atomically(where, (json.dumps(record, indent=2) + "\n").encode(), mode=0o600)
    return where


def remember(context: Context) -> Path:
    """Store (or replace) `context` and make it the current one."""
    contexts = read_or_empty()
    contexts.items[context.name] = context
    contexts.current = context.name
    return write(contexts)


def use(name: str) -> Context:
    contexts = read()
    context = contexts.get(name)
    contexts.current = name
    write(contexts)
    return context


def remove(name: str) -> bool:
    """Forget the context; returns whether it was the current one (then none is)."""
    contexts = read()
    contexts.get(name)
    del contexts.items[name]
    was_current = contexts.current == name
    if was_current:
        contexts.current = None
    write(contexts)
    return was_current


def forget_token(name: str) -> None:
    """After a logout: the context stays (its URL for the next login), its token goes."""
    contexts = read()
    if name in contexts.items:
        contexts.items[name] = replace(contexts.items[name], access_token=None)
        write(contexts)


def save_credentials(credentials: Credentials, user: str = "") -> Path:
    """Keep a login as its context (named, or named after the master) and make it current."""
    name = credentials.context or read_or_empty().named_for(credentials.url)
    return remember(Context(name, credentials.url, credentials.access_token, user))


def in_use() -> Context | None:
    """The context a command uses: the selected one, else the current one."""
    contexts = read()
    if _selected is not None:
        return contexts.get(_selected)
    return contexts.items.get(contexts.current) if contexts.current else None


def load_credentials() -> Credentials:
    """The login a command uses (see the module's doc for the order)."""
    url, token = os.environ.get("CLOUDAI_URL"), os.environ.get("CLOUDAI_TOKEN")
    if _selected is not None:
        return _usable(read().get(_selected), None, None)
    if url and token:
        return Credentials(url, token)
    context = in_use()
    if context is None:
        if token:
            return Credentials(DEFAULT_URL, token)
        raise NotLoggedIn(f"not logged in (no context in {path()}); run `cloudai login` first")
    return _usable(context, url, token)


def _usable(context: Context, url: str | None, token: str | None) -> Credentials:
    access = token or context.access_token
    if not access:
        raise NotLoggedIn(
            f"logged out of context {context.name!r}; run `cloudai login` "
            f"(or `cloudai context use` another)"
        )
    return Credentials(url or context.url, access, context.name)
