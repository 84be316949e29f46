"""How the master reaches workers: a protocol, and the fake that tests use."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cloudai.domain.errors import Unavailable
from cloudai.domain.task import Task
from cloudai.domain.workers import Worker


@dataclass(frozen=True, slots=True)
class LogPiece:
    offset: int
    data: bytes
    complete: bool = False
    status: str = ""
    exit_code: int | None = None
    stream: str | None = None  # "stdout", "stderr", "cloudai"; None: not told
    at_ms: int | None = None  # when the worker read the bytes


class WorkerGateway(Protocol):
    async def assign(self, worker: Worker, tasks: Sequence[Task]) -> list[str | None]:
        """Hand the tasks' current attempts to the worker, in one call where it can:
        for each task, None (accepted) or why the worker refused it. Raises
        `Unavailable` when the worker cannot be reached (none was handed over) and
        another `CloudAIError` when the call as a whole failed."""
        ...

    async def cancel(self, worker: Worker, task_id: str, epoch: int) -> None: ...

    def stream_logs(
        self, worker: Worker, task_id: str, epoch: int, offset: int, follow: bool
    ) -> AsyncIterator[LogPiece]: ...

    async def close(self) -> None: ...


@dataclass
class FakeWorkerGateway:
    """Records what the master asked of workers; `unreachable` workers raise."""

    assigned: list[tuple[str, str, int]] = field(default_factory=list)
    cancelled: list[tuple[str, str, int]] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)
    logs: dict[tuple[str, int], bytes] = field(default_factory=dict)

    async def assign(self, worker: Worker, tasks: Sequence[Task]) -> list[str | None]:
        if worker.worker_id in self.unreachable:
            raise Unavailable(f"{worker.worker_id}: connection refused")
        self.assigned += [(worker.worker_id, t.task_id, t.epoch) for t in tasks]
        return [None] * len(tasks)

    async def cancel(self, worker: Worker, task_id: str, epoch: int) -> None:
        if worker.worker_id in self.unreachable:
            raise Unavailable(f"{worker.worker_id}: connection refused")
        self.cancelled.append((worker.worker_id, task_id, epoch))

    async def stream_logs(
        self, worker: Worker, task_id: str, epoch: int, offset: int, follow: bool
    ) -> AsyncIterator[LogPiece]:
        data = self.logs.get((task_id, epoch), b"")[offset:]
        yield LogPiece(offset, data)

    async def close(self) -> None:
        return None
