"""The worker's calls to the master, over one channel, authenticated by metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from cloudai._proto import cluster_pb2 as pb
from cloudai._proto import cluster_pb2_grpc as pb_grpc
from cloudai.domain.errors import Unauthorized
from cloudai.rpc.credentials import CREDENTIAL_HEADER, JOIN_TOKEN_HEADER, WORKER_ID_HEADER
from cloudai.rpc.errors import call

_TIMEOUT_S = 10.0


class MasterLink:
    def __init__(self, address: str, worker_id: str, join_token: str) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = pb_grpc.MasterWorkerStub(self._channel)
        self._worker_id = worker_id
        self._join_token = join_token
        self.credential = ""

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        if not self.credential:
            raise Unauthorized("not registered with the master yet")
        return ((WORKER_ID_HEADER, self._worker_id), (CREDENTIAL_HEADER, self.credential))

    async def register(self, info: pb.WorkerInfo) -> str:
        """Join; returns the cluster's id (empty from a master that sends none)."""
        ack = await call(
            self._stub.RegisterWorker(
                info, metadata=((JOIN_TOKEN_HEADER, self._join_token),), timeout=_TIMEOUT_S
            )
        )
        self.credential = ack.worker_credential
        cluster_id: str = ack.cluster_id
        return cluster_id

    async def heartbeat(self, beat: pb.Heartbeat) -> pb.HeartbeatAck:
        ack: pb.HeartbeatAck = await call(
            self._stub.SendHeartbeat(beat, metadata=self._metadata(), timeout=_TIMEOUT_S)
        )
        return ack

    async def upload(self, chunks: AsyncIterator[pb.FileChunk]) -> pb.FileUploadAck:
        ack: pb.FileUploadAck = await call(
            self._stub.UploadTaskFiles(chunks, metadata=self._metadata(), timeout=600.0)
        )
        return ack

    async def report(self, result: pb.TaskResult) -> pb.Ack:
        ack: pb.Ack = await call(
            self._stub.ReportTaskCompletion(result, metadata=self._metadata(), timeout=_TIMEOUT_S)
        )
        return ack

    async def progress(self, progress: pb.TaskProgress) -> pb.Ack:
        ack: pb.Ack = await call(
            self._stub.ReportTaskProgress(progress, metadata=self._metadata(), timeout=_TIMEOUT_S)
        )
        return ack

    async def close(self) -> None:
        await self._channel.close()
