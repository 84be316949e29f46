"""The real WorkerGateway: gRPC calls to workers over one reused channel per address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import grpc

from cloudai._proto import cluster_pb2 as pb
from cloudai._proto import cluster_pb2_grpc as pb_grpc
from cloudai.domain.errors import Conflict
from cloudai.domain.task import Task
from cloudai.domain.workers import Worker
from cloudai.master.gateway import LogPiece
from cloudai.rpc import convert
from cloudai.rpc.credentials import CREDENTIAL_HEADER, worker_credential
from cloudai.rpc.errors import call, stream


class GrpcWorkerGateway:
    def __init__(self, join_token: str, *, timeout_s: float) -> None:
        self._join_token = join_token
        self._timeout_s = timeout_s
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _stub(self, worker: Worker) -> pb_grpc.MasterWorkerStub:
        channel = self._channels.get(worker.address)
        if channel is None:
            channel = grpc.aio.insecure_channel(worker.address)
            self._channels[worker.address] = channel
        return pb_grpc.MasterWorkerStub(channel)

    def _metadata(self, worker: Worker) -> tuple[tuple[str, str], ...]:
        return ((CREDENTIAL_HEADER, worker_credential(self._join_token, worker.worker_id)),)

    async def assign(self, worker: Worker, task: Task) -> None:
        ack = await call(
            self._stub(worker).AssignTask(
                convert.task_to_proto(task),
                metadata=self._metadata(worker),
                timeout=self._timeout_s,
            )
        )
        if not ack.success:
            raise Conflict(ack.message or "worker refused the task")

    async def cancel(self, worker: Worker, task_id: str, epoch: int) -> None:
        await call(
            self._stub(worker).CancelTask(
                pb.TaskID(task_id=task_id, epoch=epoch),
                metadata=self._metadata(worker),
                timeout=self._timeout_s,
            )
        )

    async def stream_logs(
        self, worker: Worker, task_id: str, epoch: int, offset: int, follow: bool
    ) -> AsyncIterator[LogPiece]:
        request = pb.TaskLogRequest(task_id=task_id, epoch=epoch, offset=offset, follow=follow)
        responses = self._stub(worker).StreamTaskLogs(
            request, metadata=self._metadata(worker), timeout=None if follow else self._timeout_s
        )
        async for chunk in stream(cast("AsyncIterator[pb.LogChunk]", responses)):
            tags = convert.log_piece_tags(chunk)
            yield LogPiece(
                offset=chunk.offset,
                data=chunk.data,
                complete=chunk.is_complete,
                status=chunk.status,
                exit_code=chunk.exit_code if chunk.is_complete else None,
                stream=tags[0],
                at_ms=tags[1],
            )

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
