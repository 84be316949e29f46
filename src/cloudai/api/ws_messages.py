"""The JSON messages of the WebSocket streams (docs/api.md shows each one).

Telemetry keeps the reference's worker shape (`cpu_usage`, `running_tasks`, `last_update`
in Unix seconds, `is_active`) inside `{"type": "telemetry", "workers": {id: …}}`, the
envelope the reference UI reads. Log text is decoded incrementally per attempt: a
character split between two reads is held back until its last byte arrives, and every
message says which bytes of the attempt's log it covers.
"""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from typing import Any

from cloudai.domain.task import Task
from cloudai.domain.workers import WorkerStatus
from cloudai.master.bus import TaskChanged
from cloudai.master.cluster import WorkerView
from cloudai.master.log_stream import LogBytes

Message = dict[str, Any]


def telemetry(views: list[WorkerView], *, snapshot: bool) -> Message:
    return {"type": "telemetry", "snapshot": snapshot, "workers": {
        v.worker.worker_id: worker_telemetry(v) for v in views
    }}  # fmt: skip


def worker_telemetry(view: WorkerView) -> Message:
    w = view.worker
    return {
        "worker_id": w.worker_id,
        "cpu_usage": w.usage.cpu,
        "memory_usage": w.usage.memory,
        "gpu_usage": w.usage.gpu,
        "storage_usage": w.usage.storage,
        # The caller's own tasks only, unless an admin asks; the count is everyone's.
        "running_tasks": [_held(t) for t in view.tasks],
        "running_tasks_count": view.running,
        "last_update": w.last_heartbeat.timestamp(),
        "is_active": w.status is WorkerStatus.ACTIVE,
        "status": w.status.value,
        "eligibility": w.eligibility.value,
    }


def _held(task: Task) -> Message:
    return {
        "task_id": task.task_id,
        "cpu_allocated": task.request.cpu,
        "memory_allocated": task.request.memory_gb,
        "gpu_allocated": task.request.gpu,
        "status": task.status.value,
    }


def task_changed(event: TaskChanged) -> Message:
    return {
        "type": "task",
        "task_id": event.task_id,
        "user_id": event.user_id,
        "from_status": event.from_status.value if event.from_status else None,
        "to_status": event.to_status.value,
        "epoch": event.epoch,
        "reason": event.reason,
        "at": event.at.isoformat().replace("+00:00", "Z"),
    }


def log_complete(task: Task) -> Message:
    return {
        "type": "complete",
        "task_id": task.task_id,
        "attempt": task.epoch,
        "status": task.status.value,
        "exit_code": task.exit_code,
        "reason": task.reason,
    }


class LogText:
    """Log bytes in, `log` messages out, per attempt, with the byte offsets each covers
    (`offset` .. `next_offset`): resuming at a message's `next_offset` loses and repeats
    nothing. Each message is of one stream (`stream`: stdout, stderr, or cloudai for
    CloudAI's own lines; null when the worker did not tell) and says when its worker
    read it (`at`, or null): viewers can interleave the two streams in arrival order."""

    def __init__(self, task_id: str) -> None:
        self._task_id = task_id
        self._attempt = 0
        self._start = 0  # first byte not yet in a message
        self._read = 0  # first byte not yet fed
        self._stream: str | None = None
        self._at_ms: int | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, piece: LogBytes) -> list[Message]:
        out = []
        jump = piece.attempt != self._attempt or piece.offset != self._read
        if jump or piece.stream != self._stream:
            out = self.flush()  # another attempt, a jump or another stream: decode afresh
            if jump:
                self._attempt, self._start = piece.attempt, piece.offset
                self._read = piece.offset
            self._decoder.reset()
        self._stream, self._at_ms = piece.stream, piece.at_ms
        self._read += len(piece.data)
        out += self._message(self._decoder.decode(piece.data))
        return out

    def flush(self) -> list[Message]:
        """What is held back, at the end of an attempt (a cut character: U+FFFD)."""
        return self._message(self._decoder.decode(b"", final=True)) if self._attempt else []

    def _message(self, text: str) -> list[Message]:
        if not text:
            return []
        held, _ = self._decoder.getstate()
        start, self._start = self._start, self._read - len(held)
        return [{
            "type": "log", "task_id": self._task_id, "attempt": self._attempt,
            "offset": start, "next_offset": self._start, "data": text, "stream": self._stream,
            "at": _iso_ms(self._at_ms),
        }]  # fmt: skip


def _iso_ms(at_ms: int | None) -> str | None:
    if at_ms is None:
        return None
    moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
