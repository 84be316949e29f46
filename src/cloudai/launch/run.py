"""From parsed flags to a running process: settings (flags over CLOUDAI_ variables over
defaults), logging, the event loop, and the exit status an error becomes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

from cloudai.cli import render
from cloudai.config import ExecutorKind, MasterSettings, WorkerSettings, env_var
from cloudai.domain.errors import CloudAIError
from cloudai.logs import configure_logging

_USAGE = 2  # as for a bad flag: the configuration is wrong, not the run
_INTERRUPTED = 130

S = TypeVar("S", bound=BaseSettings)


def up(
    log_level: str, fields: dict[str, Any], *, workers: int, executor: ExecutorKind | None
) -> None:
    from cloudai.launch import serve  # the master's stack, loaded only for its commands

    configure_logging(log_level)
    settings = _settings(MasterSettings, fields)
    _run(serve.run_up(settings, serve.UpOptions(workers=workers, executor=executor)))


def master(log_level: str, fields: dict[str, Any]) -> None:
    from cloudai.launch import serve

    configure_logging(log_level)
    _run(serve.run_master(_settings(MasterSettings, fields)))


def worker(log_level: str, fields: dict[str, Any]) -> None:
    from cloudai.launch import serve_worker  # the worker's own stack only

    configure_logging(log_level)
    _run(serve_worker.run_worker(_settings(WorkerSettings, fields)))


def _settings(kind: type[S], fields: dict[str, Any]) -> S:
    """The settings, or one line per wrong value (named by its variable) and exit 2."""
    try:
        return kind(**fields)
    except ValidationError as exc:
        for line in describe(exc, kind):
            render.error(line)
        raise typer.Exit(_USAGE) from None


def describe(exc: ValidationError, kind: type[BaseSettings]) -> list[str]:
    """`invalid setting CLOUDAI_HEARTBEAT_LOST_S='soon': Input should be a valid number`;
    a secret's value is never repeated."""
    # A value given in code is reported by field name, one from the environment by alias.
    fields = {key: f for f in kind.model_fields for key in (f, env_var(kind, f))}
    lines = []
    for error in exc.errors():
        where = str(error["loc"][0]) if error["loc"] else "?"
        field = fields.get(where)
        name = env_var(kind, field) if field else where
        hidden = error["type"] == "missing" or (field is not None and _is_secret(kind, field))
        value = "" if hidden else f"={error['input']!r}"
        lines.append(f"invalid setting {name}{value}: {error['msg']}")
    return lines


def _is_secret(kind: type[BaseSettings], field: str) -> bool:
    annotation = kind.model_fields[field].annotation
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())


def _run(main: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.run(main)
    except KeyboardInterrupt:  # Ctrl-C before the stop handlers were in place
        raise typer.Exit(_INTERRUPTED) from None
    except (CloudAIError, ValidationError, OSError) as exc:
        render.error(str(exc))
        raise typer.Exit(1) from exc
