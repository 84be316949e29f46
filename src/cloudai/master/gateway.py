"""How the master reaches workers. A protocol, so services are tested with a fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from cloudai.domain.task import Task
from cloudai.domain.workers import Worker


@dataclass(frozen=True, slots=True)
class LogPiece:
    offset: int
    data: bytes
    complete: bool = False
    status: str = ""
    exit_code: int | None = None


class WorkerGateway(Protocol):
    async def assign(self, worker: Worker, task: Task) -> None:
        """Hand the task's current attempt to the worker. Raises `Unavailable` when the
        worker cannot be reached and `Conflict` when it refuses."""
        ...

    async def cancel(self, worker: Worker, task_id: str, epoch: int) -> None: ...

    def stream_logs(
        self, worker: Worker, task_id: str, epoch: int, offset: int, follow: bool
    ) -> AsyncIterator[LogPiece]: ...

    async def close(self) -> None: ...
