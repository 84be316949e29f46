"""How an attempt ended, in the words of its result, and what its log says of it."""

from __future__ import annotations

from pathlib import Path

from cloudai.domain.task import Failure, TaskStatus, parse_failure
from cloudai.worker.executors.base import ExitStatus
from cloudai.worker.logcap import append_note
from cloudai.worker.outputs import CollectedOutputs

_LOG_TAIL = 64 * 1024


def ended_as(status: ExitStatus, interrupted: bool) -> tuple[TaskStatus, str, Failure | None]:
    """The outcome, its reason and the failure kind that decides a retry."""
    if status.succeeded:
        return TaskStatus.COMPLETED, "exit code 0", None
    if interrupted:
        return TaskStatus.FAILED, "interrupted: the worker stopped", Failure.INTERRUPTED
    if status.cancelled:
        return TaskStatus.CANCELLED, "cancelled", Failure.CANCELLED
    if status.error:
        return TaskStatus.FAILED, status.error, parse_failure(status.failure) or Failure.EXECUTOR
    if status.oom_killed:
        return TaskStatus.FAILED, "out of memory", Failure.OOM
    return TaskStatus.FAILED, f"exit code {status.exit_code}", Failure.EXIT


def note_outputs(log_path: Path, outputs: CollectedOutputs, at_ms: int) -> None:
    lines = [f"not collected from /output: {entry}" for entry in outputs.skipped]
    lines += [f"kept under an escaped name (not UTF-8): {name}" for name in outputs.escaped]
    append_note(log_path, lines, at_ms)


def log_tail(path: Path, size: int) -> str:
    with path.open("rb") as handle:
        handle.seek(max(size - _LOG_TAIL, 0))
        return handle.read().decode("utf-8", errors="replace")
