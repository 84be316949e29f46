"""The worker's gRPC face (master -> worker calls): thin adapters over the runner.
Every call must carry the credential this worker received when it joined."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path

from cloudai._proto import cluster_pb2 as pb
from cloudai.domain.errors import CloudAIError, NotFound, Unauthorized
from cloudai.domain.log_index import Segment, split
from cloudai.rpc import convert
from cloudai.rpc.credentials import CREDENTIAL_HEADER, same_secret
from cloudai.rpc.errors import abort_with
from cloudai.rpc.servicers import Context, WorkerSide, metadata
from cloudai.worker.invitation import Invitation
from cloudai.worker.logcap import IndexReader
from cloudai.worker.logwatch import LogWatch
from cloudai.worker.outputs import read_at
from cloudai.worker.runner import AttemptRun, Runner

_FIRST_READ = 64 * 1024  # caught up: small pieces, sent at once
_MAX_READ = 1024 * 1024  # behind: doubled up to this (the master takes 4 MiB messages)
_SAFETY_NET_S = 1.0  # a watched log is read again at least this often
_POLL_S = 0.2  # an unwatched one (no inotify): this often
_GATHER_S = 0.005  # woken by a write: gather this long before reading (see _pieces)


class WorkerService(WorkerSide):
    def __init__(
        self,
        runner: Runner,
        credential: Callable[[], str],
        grace_s: float,
        invitation: Invitation | None = None,
    ) -> None:
        """`invitation`: this worker waits for a master's MasterRegister (None: it
        joins with the join token and refuses MasterRegister)."""
        self._runner = runner
        self._credential = credential
        self._grace_s = grace_s
        self._invitation = invitation
        self._log_watch = LogWatch()

    def _check(self, context: Context) -> None:
        given = metadata(context).get(CREDENTIAL_HEADER, "")
        expected = self._credential()
        if not expected or not same_secret(given, expected):
            raise Unauthorized("caller is not this worker's master")

    async def AssignTask(self, request: pb.Task, context: Context) -> pb.TaskAck:
        try:
            self._check(context)
            self._runner.accept(convert.assignment_from_proto(request))
        except CloudAIError as exc:
            await abort_with(context, exc)
        return pb.TaskAck(success=True, message="accepted")

    async def AssignTasks(self, request: pb.TaskBatch, context: Context) -> pb.TaskBatchAck:
        try:
            self._check(context)
        except CloudAIError as exc:
            await abort_with(context, exc)
        return pb.TaskBatchAck(acks=[self._accept(task) for task in request.tasks])

    def _accept(self, task: pb.Task) -> pb.TaskAck:
        """One task of a batch: accepted, or refused on its own."""
        try:
            self._runner.accept(convert.assignment_from_proto(task))
        except CloudAIError as exc:
            return pb.TaskAck(success=False, message=str(exc))
        return pb.TaskAck(success=True, message="accepted")

    async def CancelTask(self, request: pb.TaskID, context: Context) -> pb.TaskAck:
        try:
            self._check(context)
            stopping = self._runner.cancel(request.task_id, request.epoch, self._grace_s)
        except CloudAIError as exc:
            await abort_with(context, exc)
        return pb.TaskAck(success=True, message="stopping" if stopping else "not running")

    async def MasterRegister(self, request: pb.MasterInfo, context: Context) -> pb.RegisterAck:
        # A worker with a join token joins its --master; nobody may redirect it.
        if self._invitation is None:
            return pb.RegisterAck(
                success=False, message="this worker joins with --master/--join-token"
            )
        accepted, message = self._invitation.offer(
            request.master_address, request.registration_token, request.worker_id
        )
        return pb.RegisterAck(
            success=accepted, message=message, worker_id=self._invitation.worker_id
        )

    async def StreamTaskLogs(
        self, request: pb.TaskLogRequest, context: Context
    ) -> AsyncIterator[pb.LogChunk]:
        try:
            self._check(context)
            run = self._runner.find(request.task_id, request.epoch)
            if run is None:
                raise NotFound(f"task {request.task_id} is not on this worker")
        except CloudAIError as exc:
            await abort_with(context, exc)
        async for chunk in _log_chunks(run, request.offset, request.follow, self._log_watch):
            yield chunk


async def _log_chunks(
    run: AttemptRun, offset: int, follow: bool, watch: LogWatch
) -> AsyncGenerator[pb.LogChunk, None]:
    """Bytes from `offset`; with follow, keep going until the attempt ends, then
    finish with a chunk that carries the final status and exit code. Caught up, it
    sleeps until the log is written (or the attempt ends)."""
    path = run.spec.log_path
    with watch.growth(path) if follow else contextlib.nullcontext() as grown:
        wake = grown or asyncio.Event()
        ended = asyncio.ensure_future(run.done.wait())
        ended.add_done_callback(lambda _: wake.set())
        try:
            wait_s = _SAFETY_NET_S if grown else _POLL_S
            async with contextlib.aclosing(_pieces(run, offset, follow, wake, wait_s)) as pieces:
                async for chunk in pieces:
                    yield chunk
        finally:
            ended.cancel()


async def _pieces(
    run: AttemptRun, offset: int, follow: bool, wake: asyncio.Event, wait_s: float
) -> AsyncGenerator[pb.LogChunk, None]:
    task_id, path = run.spec.task_id, run.spec.log_path
    index = IndexReader(path)
    offset, size = max(offset, 0), _FIRST_READ
    while True:
        finished = run.done.is_set()  # read before draining: no byte is missed
        wake.clear()  # before the read: a write after it sets it again
        try:
            data, segments = await asyncio.to_thread(_read, path, index, offset, size)
        except FileNotFoundError:  # delivered and cleaned up meanwhile: the master has it
            data, segments, finished = b"", [], True
        if data:
            for piece in split(segments, offset, data):
                yield convert.log_piece_to_proto(
                    task_id, piece.offset, piece.data, piece.stream, piece.at_ms
                )
            offset += len(data)
            size = min(size * 2, _MAX_READ) if len(data) == size else _FIRST_READ
            continue
        if finished:
            yield _final_chunk(run, offset)
            return
        if not follow:
            return
        with contextlib.suppress(TimeoutError):  # the safety net for a missed wake-up
            await asyncio.wait_for(wake.wait(), wait_s)
        # Let a task that prints line by line write some more: tens of lines a message,
        # not one (a message costs every hop CPU), for a few ms of latency.
        await asyncio.sleep(_GATHER_S)


def _read(path: Path, index: IndexReader, offset: int, size: int) -> tuple[bytes, list[Segment]]:
    """Up to `size` bytes from `offset` and the index as far as they go (blocking).
    The index is read after the bytes: a segment is written before the bytes it tells of."""
    data = read_at(path, offset, size)
    return data, index.read() if data else []


def _final_chunk(run: AttemptRun, offset: int) -> pb.LogChunk:
    status = run.status
    if status is None or status.cancelled:
        state = "cancelled"
    else:
        state = "completed" if status.succeeded else "failed"
    exit_code = status.exit_code if status and status.exit_code is not None else -1
    return convert.log_end_to_proto(run.spec.task_id, offset, state, exit_code)
