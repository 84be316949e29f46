"""Following a task's log: every byte of each attempt, in order, from (attempt, offset)
on, into the attempts of its retries, until the task is final.

An attempt's bytes come from the master's stored copy once its worker shipped it, and
live from the worker (gateway.stream_logs) while it runs; offsets count bytes of one
attempt's log, so a reader that reconnects resumes exactly where it stopped. Waiting is
on bus signals (this task's changes, stored files), with a slow re-check as the safety
net for what no event announces (a worker reachable again).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from cloudai.domain.errors import NotFound, Unavailable
from cloudai.domain.log_index import Segment, split
from cloudai.domain.task import Task, TaskStatus
from cloudai.domain.users import User
from cloudai.domain.workers import WorkerStatus
from cloudai.master.bus import Closed, Event, EventBus, Filter, Signal, TaskChanged, WorkerChanged
from cloudai.master.files import FileArea
from cloudai.master.gateway import LogPiece, WorkerGateway
from cloudai.master.log_tail import LineStarts, tail_start
from cloudai.master.registry import WorkerRegistry
from cloudai.master.tasks import TaskService

CHUNK_BYTES = 64 * 1024
RECHECK_S = 5.0
# A follower of a task that is on no worker re-reads it this seldom: only another
# master's write escapes this one's bus, and at 5 s a thousand followers of queued tasks
# cost the master a fifth of its time (the control-plane benchmark, --followers).
QUEUED_RECHECK_S = 60.0
MAX_TAIL_LINES = 100_000
MAX_TAIL_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LogBytes:
    attempt: int
    offset: int  # of data's first byte in the attempt's log
    data: bytes
    stream: str | None = None  # "stdout", "stderr", "cloudai" (domain.log_index); None: unknown
    at_ms: int | None = None  # when its worker read it (unix ms)

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


@dataclass(frozen=True, slots=True)
class LogEnd:
    task: Task  # final: nothing more will follow


LogItem = LogBytes | LogEnd


class LogStream:
    def __init__(
        self,
        tasks: TaskService,
        area: FileArea,
        registry: WorkerRegistry,
        gateway: WorkerGateway,
        bus: EventBus,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        recheck_s: float = RECHECK_S,
        queued_recheck_s: float = QUEUED_RECHECK_S,
    ) -> None:
        self._tasks = tasks
        self._area = area
        self._registry = registry
        self._gateway = gateway
        self._bus = bus
        self._chunk = chunk_bytes
        self._recheck_s = recheck_s
        self._queued_recheck_s = queued_recheck_s

    async def first_attempt(self, user: User, task_id: str, attempt: int | None) -> int:
        """Where a read starts: `attempt`, else the task's current one (1 before it was
        ever placed). NotFound for a task the user may not see."""
        task = await self._tasks.get(user, task_id)
        return attempt if attempt is not None else max(task.epoch, 1)

    async def read(
        self, user: User, task_id: str, attempt: int, offset: int, *, follow: bool
    ) -> AsyncGenerator[LogItem, None]:
        """The log from (attempt, offset). Without `follow`: what exists now. With it:
        on through later attempts, ending with `LogEnd` once the task is final."""
        with self._bus.signal(_about(task_id), task_id=task_id) as changed:  # before the first read
            while True:
                task = await self._tasks.get(user, task_id)  # ownership, every round
                if attempt <= task.epoch:
                    async with aclosing(
                        self._available(user, task, attempt, offset, follow)
                    ) as got:
                        async for piece in got:
                            yield piece
                            offset = piece.end
                    if attempt < task.epoch:  # that attempt is over, a later one exists
                        attempt, offset = attempt + 1, 0
                        continue
                if task.status.is_terminal:
                    yield LogEnd(task)
                    return
                if not follow:
                    return
                on_worker = task.status.holds_resources
                await changed.wait(self._recheck_s if on_worker else self._queued_recheck_s)
                if changed.closed:
                    raise Closed("the master is stopping")

    async def tail_offset(self, user: User, task_id: str, attempt: int, lines: int) -> int:
        """Where the attempt's last `lines` lines begin, as its log is now."""
        task = await self._tasks.get(user, task_id)
        lines = min(lines, MAX_TAIL_LINES)
        try:
            _, size = await asyncio.to_thread(self._area.read_log, task_id, attempt, 0, 0)
        except NotFound:
            return await self._live_tail_offset(user, task, attempt, lines)

        def read(offset: int, limit: int) -> bytes:
            return self._area.read_log(task_id, attempt, offset, limit)[0]

        return await asyncio.to_thread(tail_start, read, size, lines, MAX_TAIL_BYTES)

    async def _live_tail_offset(self, user: User, task: Task, attempt: int, lines: int) -> int:
        # The worker tells no size: scan its copy front to back (bounded memory).
        starts = LineStarts(lines)
        async with aclosing(self._available(user, task, attempt, 0, follow=False)) as got:
            async for piece in got:
                starts.feed(piece.data)
        return starts.start()

    async def _available(
        self, user: User, task: Task, attempt: int, offset: int, follow: bool
    ) -> AsyncGenerator[LogBytes, None]:
        """The attempt's bytes from `offset`: the stored copy if there is one, else
        (while it holds resources) live from its worker. Each piece is of one stream, as
        the log's index tells."""
        segments: list[Segment] | None = None
        while True:
            try:
                data, _ = await asyncio.to_thread(
                    self._area.read_log, task.task_id, attempt, offset, self._chunk
                )
            except NotFound:
                break
            if not data:
                return
            if segments is None:  # stored before the log: complete once the log is there
                segments = await asyncio.to_thread(self._area.read_log_index, task.task_id, attempt)
            for cut in split(segments, offset, data):
                yield LogBytes(attempt, cut.offset, cut.data, cut.stream, cut.at_ms)
            offset += len(data)
        if task.epoch == attempt and task.status.holds_resources:
            async with aclosing(self._live(user, task, attempt, offset, follow)) as live:
                async for piece in live:
                    yield piece

    async def _live(
        self, user: User, task: Task, attempt: int, offset: int, follow: bool
    ) -> AsyncGenerator[LogBytes, None]:
        worker = self._registry.get(task.worker_id) if task.worker_id else None
        if worker is None:
            return
        pieces = self._gateway.stream_logs(worker, task.task_id, attempt, offset, follow)

        async def over() -> bool:
            return await self._attempt_over(user, task, attempt)

        try:
            with self._bus.signal(_moves(task.task_id, worker.worker_id)) as moved:
                live = _until_over(pieces, moved, over, self._recheck_s)
                async with aclosing(live):
                    async for piece in live:
                        for cut in _cut(attempt, piece, offset, self._chunk):
                            yield cut
                            offset = cut.end
        except (Unavailable, NotFound):
            return  # the worker is gone or has dropped it; the stored copy may still come

    async def _attempt_over(self, user: User, task: Task, attempt: int) -> bool:
        """True when the worker's stream may never end by itself: the task moved on
        (requeued, a later attempt) or its worker is lost. A final task's worker ends
        the stream itself once the attempt has stopped."""
        now = await self._tasks.get(user, task.task_id)
        if now.epoch != attempt or now.status is TaskStatus.QUEUED:
            return True
        worker = self._registry.get(task.worker_id) if task.worker_id else None
        return worker is None or worker.status is WorkerStatus.LOST


async def _until_over(
    pieces: AsyncIterator[LogPiece],
    moved: Signal,
    over: Callable[[], Awaitable[bool]],
    recheck_s: float,
) -> AsyncGenerator[LogPiece, None]:
    """`pieces` until they end, or until `over()` says so (asked at every `moved` and
    every `recheck_s`): a stream from a vanished worker may hang rather than fail."""
    it = aiter(pieces)
    nxt: asyncio.Future[LogPiece] = asyncio.ensure_future(anext(it))
    try:
        while True:
            wake: asyncio.Future[Any] = asyncio.ensure_future(moved.wait(recheck_s))
            done, _ = await asyncio.wait((nxt, wake), return_when=asyncio.FIRST_COMPLETED)
            await _cancel(wake)
            if nxt in done:
                try:
                    piece = nxt.result()
                except StopAsyncIteration:
                    return
                yield piece
                if piece.complete:
                    return
                nxt = asyncio.ensure_future(anext(it))
            if wake in done and (moved.closed or await over()):
                return
    finally:
        await _cancel(nxt)
        closing = getattr(it, "aclose", None)
        if closing is not None:
            await closing()


def _cut(attempt: int, piece: LogPiece, offset: int, chunk: int) -> Iterator[LogBytes]:
    """The bytes of `piece` from `offset` on (never repeat a byte), in pieces of at most
    `chunk` bytes whatever size the worker sends: clients get bounded messages."""
    begin = max(offset, piece.offset)
    for at in range(begin, piece.offset + len(piece.data), chunk):
        data = piece.data[at - piece.offset : at - piece.offset + chunk]
        yield LogBytes(attempt, at, data, piece.stream, piece.at_ms)


async def _cancel(task: asyncio.Future[Any]) -> None:
    if task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def _about(task_id: str) -> Filter:
    """What may bring a task's log further: its changes. (Its stored copy arrives before
    the report that ends the attempt, so that report's change covers it.)"""

    def accept(event: Event) -> bool:
        return isinstance(event, TaskChanged) and event.task_id == task_id

    return accept


def _moves(task_id: str, worker_id: str) -> Filter:
    def accept(event: Event) -> bool:
        if isinstance(event, TaskChanged):
            return event.task_id == task_id
        return isinstance(event, WorkerChanged) and event.worker_id == worker_id

    return accept
