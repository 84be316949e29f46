"""Reading a task's log: from the master's copy once the attempt has shipped it,
from the worker while it runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from cloudai.domain.errors import NotFound, Unavailable
from cloudai.domain.task import Task, TaskStatus
from cloudai.domain.users import User
from cloudai.master.files import FileArea
from cloudai.master.gateway import WorkerGateway
from cloudai.master.registry import WorkerRegistry
from cloudai.master.tasks import TaskService


@dataclass(frozen=True, slots=True)
class LogSlice:
    task: Task
    data: bytes
    offset: int
    next_offset: int
    complete: bool  # no more bytes will ever follow
    attempt: int = 0  # whose log: each attempt of the task has its own


class LogService:
    def __init__(
        self,
        tasks: TaskService,
        area: FileArea,
        registry: WorkerRegistry,
        gateway: WorkerGateway,
    ) -> None:
        self._tasks = tasks
        self._area = area
        self._registry = registry
        self._gateway = gateway

    async def read(
        self, user: User, task_id: str, offset: int, limit: int, attempt: int | None = None
    ) -> LogSlice:
        """The log of `attempt` (default: the current one) from `offset`: the stored
        copy, else live from the worker while that attempt runs there."""
        task = await self._tasks.get(user, task_id)
        if task.epoch == 0:  # never placed: no log yet
            return LogSlice(task, b"", offset, offset, task.status is TaskStatus.CANCELLED)
        epoch = task.epoch if attempt is None else attempt
        if not 1 <= epoch <= task.epoch:
            raise NotFound(f"task {task_id} has no attempt {epoch} (it has 1 to {task.epoch})")
        try:
            data, size = await asyncio.to_thread(
                self._area.read_log, task.task_id, epoch, offset, limit
            )
            end = offset + len(data)
            over = task.status.is_terminal or epoch < task.epoch
            return LogSlice(task, data, offset, end, over and end >= size, epoch)
        except NotFound:
            pass
        if epoch < task.epoch:  # an earlier attempt whose log never reached the master
            return LogSlice(task, b"", offset, offset, True, epoch)
        data, ended = await self._from_worker(task, offset, limit)
        # A final task whose worker holds no more of the log: it shipped all there is
        # (a task that printed nothing ships no log).
        complete = ended and task.status.is_terminal
        return LogSlice(task, data, offset, offset + len(data), complete, epoch)

    async def _from_worker(self, task: Task, offset: int, limit: int) -> tuple[bytes, bool]:
        """The bytes from `offset` (at most `limit`), and whether they end the attempt's
        log there: the worker said so, dropped the attempt (delivered), or is gone."""
        worker = self._registry.get(task.worker_id) if task.worker_id else None
        if worker is None:
            return b"", True
        parts: list[bytes] = []
        size, ended = 0, False
        try:
            pieces = self._gateway.stream_logs(worker, task.task_id, task.epoch, offset, False)
            async for piece in pieces:
                parts.append(piece.data)
                size += len(piece.data)
                ended = piece.complete
                if size >= limit:
                    break
        except Unavailable:
            return b"", False  # unreachable for now: its upload may still come
        except NotFound:
            return b"", True  # it has dropped the attempt: delivered what there was
        data = b"".join(parts)
        return data[:limit], ended and len(data) <= limit
