"""Everything the CLI prints goes through here."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cloudai.cli import keys

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


def out(message: str) -> None:
    _out.print(message)


def line(message: str) -> None:
    """One line on stdout, printed literally (it may carry user data)."""
    _out.print(Text(message), soft_wrap=True)


def info(message: str) -> None:
    """A progress note on stderr, printed literally."""
    _err.print(Text(message), soft_wrap=True)


def warn(message: str) -> None:
    _err.print(f"[bold yellow]warning:[/] {escape(message)}")


def error(message: str) -> None:
    """One line on stderr, however long; the message is printed literally."""
    _err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def block(lines: list[str]) -> None:
    """Lines on stdout exactly as given (no markup), each unwrapped, flushed at once:
    scripts and tests read banners through a pipe, and a token must copy in one piece."""
    for line in lines:
        _out.print(Text(line), soft_wrap=True)
    _out.file.flush()


def stdout_is_terminal() -> bool:
    """Whether a person is watching stdout (secrets are shown only then). The descriptor
    itself decides: FORCE_TERMINAL and the like must not send a secret to a journal."""
    try:
        return os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return False


# --- user-facing task verbs (cloudai login, task, list-tasks, status, logs, …) ----------
# Values from the API are user data: they are printed as Text, never parsed as markup.


def raw(text: str) -> None:
    """Text exactly as given (a task's log): no markup, no wrapping, flushed at once."""
    sys.stdout.write(text)
    sys.stdout.flush()


def json_doc(data: Any) -> None:
    raw(json.dumps(data, indent=2) + "\n")


def logged_in(url: str, user: dict[str, Any], context: str, path: str) -> None:
    who = f"{user.get('email', '?')} ({user.get('role', 'user')})"
    text = f"logged in to {url} as {who}; context {context} (current), saved in {path}"
    _out.print(Text(text), soft_wrap=True)


def task_submitted(task_id: str) -> None:
    _out.print(Text(task_id), soft_wrap=True)
    _out.file.flush()


def outcome_line(task: dict[str, Any]) -> str:
    """`task-… failed: exit code 4`, `task-… failed: out of memory (exit code 137)`."""
    reason, code = str(task.get("reason") or "-"), task.get("exit_code")
    if code is not None and f"exit code {code}" not in reason:
        reason += f" (exit code {code})"
    return f"{task['task_id']} {task['status']}: {reason}"


def task_cancelled(body: dict[str, Any]) -> None:
    _out.print(Text(f"{body['task_id']} {body['status']}"), soft_wrap=True)


def print_table(table: Table) -> None:
    """Into a terminal: fit its width. Into a pipe: one line per row, never wrapped."""
    if _out.is_terminal:
        _out.print(table)
    else:
        Console(file=_out.file, width=100_000, highlight=False).print(table)


def when(value: Any) -> str:
    return str(value)[:19].replace("T", " ") if value else "-"


def cell(value: Any) -> Text:
    return Text("-" if value is None or value == "" else str(value))


def tasks_table(tasks: list[dict[str, Any]]) -> None:
    if not tasks:
        info("no tasks")
        return
    table = Table("ID", "NAME", "STATUS", "WORKER", "EXIT", "CREATED", box=None)
    table.columns[0].no_wrap = True
    for t in tasks:
        table.add_row(
            *(cell(t.get(k)) for k in ("task_id", "name", "status", "worker_id", "exit_code")),
            Text(when(t.get("created_at"))),
        )
    print_table(table)


_DETAIL_FIELDS = (
    ("status", "status"), ("reason", "reason"), ("pending_reason", "pending"),
    ("queue_position", "position"), ("priority", "priority"), ("task_type", "type"),
    ("name", "name"), ("docker_image", "image"), ("command", "command"),
    ("worker_id", "worker"), ("exit_code", "exit code"), ("attempt", "attempt"),
    ("cpu_required", "cpu"), ("memory_required", "memory GiB"),
    ("storage_required", "storage GiB"), ("gpu_required", "gpu"), ("tag", "tag"),
    ("k_value", "k"), ("deadline", "deadline"), ("sla_met", "sla met"),
    ("retries", "retries"), ("created_at", "created"), ("started_at", "started"),
    ("finished_at", "finished"),
)  # fmt: skip


def task_detail(task: dict[str, Any]) -> None:
    _out.print(Text(task["task_id"], style="bold"), soft_wrap=True)
    for key, label in _DETAIL_FIELDS:
        value = task.get(key)
        if key in ("pending_reason", "queue_position") and value is None:
            continue
        if key == "command" and isinstance(value, list):
            value = json.dumps(value)
        _out.print(
            Text(f"  {label + ':':<12} {'-' if value in (None, '') else value}"), soft_wrap=True
        )
    _attempts(task.get("attempts") or [])
    events(task.get("events") or [])


def _attempts(attempts: list[dict[str, Any]]) -> None:
    if not attempts:
        return
    table = Table("EPOCH", "WORKER", "STATUS", "EXIT", "OOM", "REASON", title="attempts", box=None)
    for a in attempts:
        keys = ("epoch", "worker_id", "status", "exit_code", "oom_killed", "reason")
        table.add_row(*(cell(a.get(k)) for k in keys))
    print_table(table)


def events(items: list[dict[str, Any]]) -> None:
    if not items:
        info("no events")
        return
    table = Table("AT", "FROM", "TO", "EPOCH", "REASON", title="events", box=None)
    for e in items:
        table.add_row(
            Text(when(e.get("at"))),
            *(cell(e.get(k)) for k in ("from_status", "to_status", "epoch", "reason")),
        )
    print_table(table)


def files_table(listing: dict[str, Any]) -> None:
    files = listing.get("files") or []
    if not files:
        info(f"no files for {listing.get('task_id', 'this task')}")
        return
    table = Table("PATH", "SIZE", "SHA256", box=None)
    table.columns[2].no_wrap = True
    for f in files:
        table.add_row(Text(str(f["path"])), Text(str(f["size"])), Text(str(f["sha256"])))
    print_table(table)
    info(f"{len(files)} file(s), {listing.get('total_size', 0)} bytes")


def downloaded(path: str, size: int) -> None:
    _out.print(Text(f"wrote {path} ({size} bytes, sha256 verified)"), soft_wrap=True)


def view(renderable: RenderableType) -> None:
    _out.print(renderable)


def live(build: Callable[[], RenderableType], interval_s: float) -> None:
    """Redraw `build()` in place every `interval_s` until `q` (returns) or Ctrl-C
    (KeyboardInterrupt); the terminal is left with the last frame, the cursor shown and
    its mode as it was (keys.quit_on_q)."""
    with keys.quit_on_q(), Live(build(), console=_out, auto_refresh=False) as screen:
        while True:
            time.sleep(interval_s)
            screen.update(build(), refresh=True)


def _stderr_is_terminal() -> bool:
    try:
        return os.isatty(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr while `total` bytes move, only when stderr is a terminal
    (never into a pipe or a file); it is wiped when done. Yields how to advance it, or
    None when no bar is shown."""
    if not _stderr_is_terminal():
        yield None
        return
    from rich import progress as bars  # only for a transfer on a terminal

    columns = (
        bars.TextColumn("{task.description}"),
        bars.BarColumn(),
        bars.DownloadColumn(),
        bars.TransferSpeedColumn(),
        bars.TimeRemainingColumn(),
    )
    with bars.Progress(*columns, console=_err, transient=True) as bar:  # fmt: skip
        task = bar.add_task(escape(label), total=total)
        yield lambda size: bar.advance(task, size)
