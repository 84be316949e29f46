"""Each attempt's record on disk, in its own directory, until the master has its result.

    attempts/<task>-<epoch>/assignment.json   written when the attempt is accepted
    attempts/<task>-<epoch>/finished.json     written when it ends, before delivery
    attempts/<task>-<epoch>/task.log, output/ its log and its /output files

So a worker that restarts (or crashes) loses no result: it delivers what finished,
adopts what did not finish but still runs (its container outlived the worker process),
and clears the rest (nothing runs it any more; the master requeues it). Spooled results
past an age or beyond a total size are dropped, each with a log line.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudai.domain.attempts import Assignment, FinishedAttempt
from cloudai.domain.resources import Resources
from cloudai.domain.task import AttemptReport, Failure, TaskStatus
from cloudai.fileutil import write_atomically

logger = logging.getLogger(__name__)

ASSIGNMENT_FILE = "assignment.json"
FINISHED_FILE = "finished.json"


@dataclass(frozen=True, slots=True)
class Spooled:
    directory: Path
    assignment: Assignment
    finished: FinishedAttempt | None  # None: it never ended here
    size: int  # bytes on disk, its log and outputs included
    mtime: float  # when it was last written
    gpu_ids: tuple[int, ...] = ()  # the devices the attempt was given
    accepted_ms: int = 0  # when this worker accepted it (unix ms; 0: not recorded)


def save_assignment(
    directory: Path, assignment: Assignment, gpu_ids: tuple[int, ...] = (), accepted_ms: int = 0
) -> None:
    record = {
        "task_id": assignment.task_id, "epoch": assignment.epoch, "image": assignment.image,
        "command": assignment.command, "request": _resources(assignment.request),
        "user_id": assignment.user_id, "task_name": assignment.task_name,
        "submitted_at": assignment.submitted_at, "env": assignment.env,
        "timeout_s": assignment.timeout_s,
        "gpu_ids": list(gpu_ids), "accepted_ms": accepted_ms,
    }  # fmt: skip
    write_atomically(directory / ASSIGNMENT_FILE, json.dumps(record).encode())


def save_finished(directory: Path, finished: FinishedAttempt) -> None:
    r = finished.report
    record = {
        "task_id": r.task_id, "epoch": r.epoch, "worker_id": r.worker_id,
        "outcome": r.outcome.value, "exit_code": r.exit_code, "reason": r.reason,
        "oom_killed": r.oom_killed, "log_size": r.log_size,
        "failure": r.failure.value if r.failure else None,
        "log_tail": finished.log_tail, "output_files": list(finished.output_files),
        "started_at_ms": finished.started_at_ms, "finished_at_ms": finished.finished_at_ms,
    }  # fmt: skip
    write_atomically(directory / FINISHED_FILE, json.dumps(record).encode())


def scan(attempts_dir: Path) -> tuple[list[Spooled], list[Path]]:
    """The readable records, oldest first, and the directories that hold none (a crash
    before the first write, or files not ours to read)."""
    records: list[Spooled] = []
    unreadable: list[Path] = []
    if not attempts_dir.is_dir():
        return records, unreadable
    for directory in sorted(p for p in attempts_dir.iterdir() if p.is_dir()):
        try:
            records.append(_load(directory))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("attempt record %s unreadable (%s); removing it", directory.name, exc)
            unreadable.append(directory)
    return sorted(records, key=lambda s: s.mtime), unreadable


def over_limits(
    records: list[Spooled], *, now: float, max_age_s: float, max_bytes: int
) -> list[Spooled]:
    """Finished records to drop: older than `max_age_s`, then the oldest until what is
    left fits in `max_bytes`. (`records` oldest first.)"""
    finished = [r for r in records if r.finished is not None]
    drop = [r for r in finished if now - r.mtime > max_age_s]
    total = sum(r.size for r in finished if r not in drop)
    for record in finished:
        if total <= max_bytes:
            break
        if record not in drop:
            drop.append(record)
            total -= record.size
    return drop


def _load(directory: Path) -> Spooled:
    kept = json.loads((directory / ASSIGNMENT_FILE).read_text())
    assignment = _assignment(kept)
    finished_path = directory / FINISHED_FILE
    finished = None
    if finished_path.exists():
        finished = _finished(json.loads(finished_path.read_text()))
    files = [p for p in directory.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    mtime = max(p.stat().st_mtime for p in files)
    gpu_ids = tuple(int(i) for i in kept.get("gpu_ids", ()))
    return Spooled(
        directory, assignment, finished, size, mtime, gpu_ids, int(kept.get("accepted_ms", 0))
    )


def _resources(request: Resources) -> dict[str, float]:
    return {
        "cpu": request.cpu, "memory_gb": request.memory_gb,
        "storage_gb": request.storage_gb, "gpu": request.gpu,
    }  # fmt: skip


def _assignment(record: dict[str, Any]) -> Assignment:
    request = record["request"]
    return Assignment(
        task_id=str(record["task_id"]),
        epoch=int(record["epoch"]),
        image=str(record["image"]),
        command=record["command"],
        request=Resources(
            float(request["cpu"]),
            float(request["memory_gb"]),
            float(request["storage_gb"]),
            int(request["gpu"]),
        ),
        user_id=str(record["user_id"]),
        task_name=str(record["task_name"]),
        submitted_at=int(record["submitted_at"]),
        env={str(k): str(v) for k, v in dict(record["env"]).items()},
        timeout_s=record["timeout_s"],
    )


def _finished(record: dict[str, Any]) -> FinishedAttempt:
    failure = record["failure"]
    report = AttemptReport(
        task_id=str(record["task_id"]),
        epoch=int(record["epoch"]),
        worker_id=str(record["worker_id"]),
        outcome=TaskStatus(record["outcome"]),
        exit_code=record["exit_code"],
        reason=str(record["reason"]),
        oom_killed=bool(record["oom_killed"]),
        log_size=int(record["log_size"]),
        failure=Failure(failure) if failure else None,
    )
    return FinishedAttempt(
        report=report,
        log_tail=str(record["log_tail"]),
        output_files=tuple(str(f) for f in record["output_files"]),
        started_at_ms=int(record["started_at_ms"]),
        finished_at_ms=int(record["finished_at_ms"]),
    )
