"""Receiving a finished attempt's log and /output files from its worker."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from cloudai.domain.errors import Forbidden, InvalidRequest, NotFound, StorageFull
from cloudai.domain.task import OutputFile, Task
from cloudai.master.files import MAX_PATH, FileArea, IncomingFile
from cloudai.master.watch import TaskWatch
from cloudai.ports import Store

logger = logging.getLogger(__name__)

KIND_OUTPUT = "output"
KIND_LOG = "log"
KIND_LOG_INDEX = "log_index"  # the log's streams and times, beside it


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
        Re-uploading the same attempt replaces its files (idempotent). A file that
        cannot be stored (a name the filesystem refuses, a bad checksum) is skipped and
        named at the end of the stored log; the others are kept. StorageFull when the
        disk is full; InvalidRequest (the whole stream) for a hostile path or a stream
        over the size cap."""
        upload = _Upload(self._area, self._max_bytes)
        try:
            async for chunk in chunks:
                await upload.take(chunk, lambda c: self._authorise(worker_id, c))
            await upload.settle()
        finally:
            await upload.discard_partial()
        task = upload.task
        if task is None:
            return 0
        if upload.skipped:
            notes = [f"not stored on the master: {entry}" for entry in upload.skipped]
            await asyncio.to_thread(self._area.note_in_log, task.task_id, task.epoch, notes)
        await self._store.replace_files(task.task_id, sorted(upload.outputs.values(), key=_by_path))
        await self._watch.bump(task.task_id)  # waiters may be waiting for a task's files
        logger.info("files received", extra={"task_id": task.task_id, "count": len(upload.outputs)})
        return len(upload.outputs)

    async def _authorise(self, worker_id: str, chunk: UploadChunk) -> Task:
        task = await self._store.get_task(chunk.task_id)
        if task is None:
            raise NotFound(f"task {chunk.task_id} not found")
        # Fencing: only the worker of the task's current attempt may deliver its files,
        # even after the task became final (a cancelled attempt still ships /output).
        if task.worker_id != worker_id or task.epoch != chunk.epoch:
            raise Forbidden(f"{worker_id} does not hold {chunk.task_id} epoch {chunk.epoch}")
        return task


def _by_path(f: OutputFile) -> str:
    return f.path


class _Upload:
    """One stream's state: the attempt it delivers, the file being written, what was
    kept and what was skipped.

    A chunk is written (and hashed) in a thread while the next one is received; its
    outcome is settled before the next chunk is taken, so chunks are written in order,
    one at a time, and an error is handled as if the write had been awaited."""

    def __init__(self, area: FileArea, max_bytes: int) -> None:
        self._area = area
        self._max_bytes = max_bytes
        self.task: Task | None = None
        self.outputs: dict[str, OutputFile] = {}
        self.skipped: list[str] = []
        self._current: IncomingFile | None = None
        self._skipping: str | None = None  # the path whose remaining chunks are dropped
        self._writing: tuple[UploadChunk, asyncio.Future[None]] | None = None
        self._total = 0

    async def take(
        self, chunk: UploadChunk, authorise: Callable[[UploadChunk], Awaitable[Task]]
    ) -> None:
        if self.task is None:
            self.task = await authorise(chunk)
        elif (chunk.task_id, chunk.epoch) != (self.task.task_id, self.task.epoch):
            raise InvalidRequest("one upload stream carries one attempt")
        self._total += len(chunk.data)
        if self._total > self._max_bytes:
            raise InvalidRequest(f"upload exceeds {self._max_bytes} bytes")
        await self.settle()
        if chunk.path == self._skipping:
            self._skipping = None if chunk.last_chunk else chunk.path
            return
        writing = asyncio.ensure_future(asyncio.to_thread(self._write, self.task, chunk))
        self._writing = (chunk, writing)

    async def settle(self) -> None:
        """Wait for the chunk being written, and act on how its write ended."""
        if self._writing is None:
            return
        chunk, writing = self._writing
        # asyncio.wait: a cancelled stream does not cancel the write (its thread runs on).
        await asyncio.wait((writing,))
        self._writing = None
        try:
            writing.result()
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(f"no space left for {chunk.path!r}") from exc
            await self._skip(chunk, exc.strerror or str(exc))
        except _Unstorable as exc:
            await self._skip(chunk, str(exc))

    def _write(self, task: Task, chunk: UploadChunk) -> None:
        current = self._current
        if current is None or current.rel_path != chunk.path:
            if current is not None:  # a file the stream never finished: not kept
                self._current = None
                self._area.discard(current)
            if _empty_log(chunk):  # a task that printed nothing keeps no log file
                return
            current = self._current = self._area.begin(
                _final_path(self._area, task, chunk), chunk.path
            )
        self._area.append(current, chunk.data)
        if chunk.last_chunk:
            try:
                digest = self._area.commit(current, chunk.sha256)
            except InvalidRequest as exc:  # a checksum mismatch: this file only
                raise _Unstorable(str(exc)) from exc
            self._current = None  # only now: a failed rename is discarded as partial
            if chunk.kind not in (KIND_LOG, KIND_LOG_INDEX):
                self.outputs[chunk.path] = OutputFile(chunk.path, current.size, digest)

    async def _skip(self, chunk: UploadChunk, why: str) -> None:
        self.skipped.append(f"{chunk.path}: {why}")
        logger.warning("file not stored: %s", why, extra={"task_id": chunk.task_id})
        await self.discard_partial()
        self._skipping = None if chunk.last_chunk else chunk.path

    async def discard_partial(self) -> None:
        """A skipped, refused or broken file leaves no partial file behind."""
        if self._writing is not None:  # a broken stream: its last write ends first
            await asyncio.wait((self._writing[1],))
            self._writing[1].exception()  # retrieved: the stream's own error is raised
            self._writing = None
        if self._current is not None:
            await asyncio.to_thread(self._area.discard, self._current)
            self._current = None


def _empty_log(chunk: UploadChunk) -> bool:
    """An empty log (or index), whole in this one chunk."""
    return chunk.kind in (KIND_LOG, KIND_LOG_INDEX) and chunk.last_chunk and not chunk.data


class _Unstorable(Exception):
    """This file cannot be stored; the stream goes on."""


def _final_path(area: FileArea, task: Task, chunk: UploadChunk) -> Path:
    if chunk.kind == KIND_LOG:
        return area.log_path(task.task_id, task.epoch)
    if chunk.kind == KIND_LOG_INDEX:
        return area.log_index_path(task.task_id, task.epoch)
    if len(chunk.path) > MAX_PATH:
        raise _Unstorable(f"path longer than {MAX_PATH} characters")
    return area.output_path(task.user_id, task.task_id, chunk.path)
