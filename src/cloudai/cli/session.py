"""What every HTTP verb shares: the session from the stored login, how errors become
one line and a documented exit status, and the `--output` option.

Exit status: 0 ok, 1 failed, 2 usage (typer's own, and an ambiguous id prefix), 3 not
found, 4 not logged in or not allowed, 5 the master cannot be reached; 130 interrupted
(Ctrl-C)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated

import typer

from cloudai.cli import render
from cloudai.cli.client import ApiError, Client, CliError, NotLoggedIn
from cloudai.cli.contexts import UnknownContext, load_credentials
from cloudai.cli.ids import Ambiguous, NoMatch

FAILED, USAGE, NOT_FOUND, AUTH, UNREACHABLE, INTERRUPTED = 1, 2, 3, 4, 5, 130


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


Output = Annotated[
    Format,
    typer.Option(
        "--output", help="table for people, json for programs (data on stdout, messages on "
        "stderr).", case_sensitive=False,
    ),
]  # fmt: skip
JsonFlag = Annotated[bool, typer.Option("--json", hidden=True, help="Same as --output json.")]


def wants_json(output: Format, json_flag: bool) -> bool:
    return json_flag or output is Format.JSON


def exit_status(exc: CliError) -> int:
    if isinstance(exc, NotLoggedIn):
        return AUTH
    if isinstance(exc, Ambiguous):
        return USAGE
    if isinstance(exc, NoMatch | UnknownContext):
        return NOT_FOUND
    if isinstance(exc, ApiError):
        return {0: UNREACHABLE, 401: AUTH, 403: AUTH, 404: NOT_FOUND}.get(exc.status, FAILED)
    return FAILED


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """CLI and API errors become one line on stderr and their exit status; Ctrl-C
    ends the command quietly with 130."""
    try:
        yield
    except CliError as exc:
        render.error(str(exc))
        raise typer.Exit(exit_status(exc)) from exc
    except OSError as exc:
        render.error(str(exc))
        raise typer.Exit(FAILED) from exc
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED) from None


@contextlib.contextmanager
def session() -> Iterator[Client]:
    """A client for the login in use (contexts.load_credentials says which)."""
    with reported():
        credentials = load_credentials()
        with Client(credentials.url, credentials.access_token) as client:
            yield client
