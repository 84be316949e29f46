"""The worker's gRPC face (master -> worker calls): thin adapters over the runner.
Every call must carry the credential this worker received when it joined."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from cloudai._proto import cluster_pb2 as pb
from cloudai.domain.errors import CloudAIError, NotFound, Unauthorized
from cloudai.domain.log_index import split
from cloudai.rpc import convert
from cloudai.rpc.credentials import CREDENTIAL_HEADER, same_secret
from cloudai.rpc.errors import abort_with
from cloudai.rpc.servicers import Context, WorkerSide, metadata
from cloudai.worker.invitation import Invitation
from cloudai.worker.logcap import IndexReader
from cloudai.worker.outputs import read_at
from cloudai.worker.runner import AttemptRun, Runner

_LOG_CHUNK = 64 * 1024
_FOLLOW_POLL_S = 0.2


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
        async for chunk in _log_chunks(run, request.offset, request.follow):
            yield chunk


async def _log_chunks(run: AttemptRun, offset: int, follow: bool) -> AsyncIterator[pb.LogChunk]:
    """Bytes from `offset`; with follow, keep going until the attempt ends, then
    finish with a chunk that carries the final status and exit code."""
    task_id = run.spec.task_id
    offset = max(offset, 0)
    index = IndexReader(run.spec.log_path)
    while True:
        finished = run.done.is_set()  # read before draining: no byte is missed
        try:
            data = await asyncio.to_thread(read_at, run.spec.log_path, offset, _LOG_CHUNK)
        except FileNotFoundError:  # delivered and cleaned up meanwhile: the master has it
            data, finished = b"", True
        if data:
            # Read after the bytes: a segment is written before the bytes it tells of.
            segments = await asyncio.to_thread(index.read)
            for piece in split(segments, offset, data):
                yield convert.log_piece_to_proto(
                    task_id, piece.offset, piece.data, piece.stream, piece.at_ms
                )
            offset += len(data)
            continue
        if finished:
            yield _final_chunk(run, offset)
            return
        if not follow:
            return
        await asyncio.sleep(_FOLLOW_POLL_S)  # the executor writes from another thread


def _final_chunk(run: AttemptRun, offset: int) -> pb.LogChunk:
    status = run.status
    if status is None or status.cancelled:
        state = "cancelled"
    else:
        state = "completed" if status.succeeded else "failed"
    exit_code = status.exit_code if status and status.exit_code is not None else -1
    return convert.log_end_to_proto(run.spec.task_id, offset, state, exit_code)
