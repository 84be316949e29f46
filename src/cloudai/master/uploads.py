"""Receiving a finished attempt's log and /output files from its worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from cloudai.domain.errors import Forbidden, InvalidRequest, NotFound
from cloudai.domain.task import OutputFile, Task
from cloudai.master.files import FileArea, IncomingFile
from cloudai.master.watch import TaskWatch
from cloudai.ports import Store

logger = logging.getLogger(__name__)

KIND_OUTPUT = "output"
KIND_LOG = "log"


@dataclass(frozen=True, slots=True)
class UploadChunk:
    task_id: str
    epoch: int
    path: str
    data: bytes
    last_chunk: bool
    kind: str
    sha256: str


class UploadService:
    def __init__(self, store: Store, area: FileArea, watch: TaskWatch, *, max_bytes: int) -> None:
        self._store = store
        self._watch = watch
        self._area = area
        self._max_bytes = max_bytes

    async def receive(self, worker_id: str, chunks: AsyncIterator[UploadChunk]) -> int:
        """Store every file of the stream; returns the number of output files kept.
        Re-uploading the same attempt replaces its files (idempotent)."""
        task: Task | None = None
        current: IncomingFile | None = None
        outputs: dict[str, OutputFile] = {}
        total = 0
        try:
            async for chunk in chunks:
                if task is None:
                    task = await self._authorise(worker_id, chunk)
                elif (chunk.task_id, chunk.epoch) != (task.task_id, task.epoch):
                    raise InvalidRequest("one upload stream carries one attempt")
                total += len(chunk.data)
                if total > self._max_bytes:
                    raise InvalidRequest(f"upload exceeds {self._max_bytes} bytes")
                if current is None or current.rel_path != chunk.path:
                    current = await asyncio.to_thread(self._begin, task, chunk)
                await asyncio.to_thread(self._area.append, current, chunk.data)
                if chunk.last_chunk:
                    digest = await asyncio.to_thread(self._area.commit, current, chunk.sha256)
                    if chunk.kind != KIND_LOG:
                        outputs[chunk.path] = OutputFile(chunk.path, current.size, digest)
                    current = None
        finally:
            if current is not None:  # a refused or broken stream leaves no partial file
                await asyncio.to_thread(current.temp.unlink, True)
        if task is None:
            return 0
        await self._store.replace_files(task.task_id, sorted(outputs.values(), key=_by_path))
        await self._watch.bump()  # waiters may be waiting for a task's files
        logger.info("files received", extra={"task_id": task.task_id, "count": len(outputs)})
        return len(outputs)

    async def _authorise(self, worker_id: str, chunk: UploadChunk) -> Task:
        task = await self._store.get_task(chunk.task_id)
        if task is None:
            raise NotFound(f"task {chunk.task_id} not found")
        # Fencing: only the worker of the task's current attempt may deliver its files,
        # even after the task became final (a cancelled attempt still ships /output).
        if task.worker_id != worker_id or task.epoch != chunk.epoch:
            raise Forbidden(f"{worker_id} does not hold {chunk.task_id} epoch {chunk.epoch}")
        return task

    def _begin(self, task: Task, chunk: UploadChunk) -> IncomingFile:
        if chunk.kind == KIND_LOG:
            return self._area.begin(self._area.log_path(task.task_id, task.epoch), chunk.path)
        final = self._area.output_path(task.user_id, task.task_id, chunk.path)
        return self._area.begin(final, chunk.path)


def _by_path(f: OutputFile) -> str:
    return f.path
