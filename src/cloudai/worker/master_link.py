"""The worker's calls to the master, over one channel, authenticated by metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import grpc

from cloudai._proto import cluster_pb2 as pb
from cloudai._proto import cluster_pb2_grpc as pb_grpc
from cloudai.domain.attempts import FilePiece, FinishedAttempt, HeldAttempt
from cloudai.domain.errors import Unauthorized
from cloudai.domain.resources import Resources
from cloudai.domain.workers import Usage
from cloudai.rpc import convert
from cloudai.rpc.credentials import (
    CREDENTIAL_HEADER,
    JOIN_TOKEN_HEADER,
    REGISTRATION_TOKEN_HEADER,
    WORKER_ID_HEADER,
)
from cloudai.rpc.errors import call

_TIMEOUT_S = 10.0
_UPLOAD_METHOD = f"/{pb.DESCRIPTOR.services_by_name['MasterWorker'].full_name}/UploadTaskFiles"


def _upload_call(
    channel: grpc.aio.Channel,
) -> grpc.aio.StreamUnaryMultiCallable[FilePiece, pb.FileUploadAck]:
    """UploadTaskFiles, its pieces serialised by convert.piece_to_wire (one copy of the
    data) rather than built as messages first; the same FileChunk on the wire."""
    return channel.stream_unary(
        _UPLOAD_METHOD,
        request_serializer=convert.piece_to_wire,
        response_deserializer=pb.FileUploadAck.FromString,
    )


class MasterLink:
    def __init__(self, address: str, worker_id: str, join_token: str) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = pb_grpc.MasterWorkerStub(self._channel)
        self._upload = _upload_call(self._channel)
        self._worker_id = worker_id
        self._join_token = join_token
        self._registration_token = ""
        self.address = address
        self.credential = ""

    async def invited(self, address: str, registration_token: str) -> None:
        """Join the master at `address` next, with a one-time registration token in
        place of the join token (a pre-registered worker's first registration)."""
        if address != self.address:
            await self._channel.close()
            self._channel = grpc.aio.insecure_channel(address)
            self._stub = pb_grpc.MasterWorkerStub(self._channel)
            self._upload = _upload_call(self._channel)
            self.address = address
        self._registration_token = registration_token
        self.credential = ""

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        if not self.credential:
            raise Unauthorized("not registered with the master yet")
        return ((WORKER_ID_HEADER, self._worker_id), (CREDENTIAL_HEADER, self.credential))

    async def register(self, address: str, capacity: Resources, held: Iterable[HeldAttempt]) -> str:
        """Join; returns the cluster's id (empty from a master that sends none)."""
        info = convert.worker_info_to_proto(self._worker_id, address, capacity, held)
        secret = (
            (REGISTRATION_TOKEN_HEADER, self._registration_token)
            if self._registration_token
            else (JOIN_TOKEN_HEADER, self._join_token)
        )
        ack = await call(self._stub.RegisterWorker(info, metadata=(secret,), timeout=_TIMEOUT_S))
        self._registration_token = ""  # used up: the credential serves from now on
        self.credential = ack.worker_credential
        cluster_id: str = ack.cluster_id
        return cluster_id

    async def heartbeat(self, usage: Usage, held: Iterable[HeldAttempt]) -> list[tuple[str, int]]:
        """Beat; returns the attempts the master wants stopped."""
        beat = convert.heartbeat_to_proto(self._worker_id, usage, held)
        ack: pb.HeartbeatAck = await call(
            self._stub.SendHeartbeat(beat, metadata=self._metadata(), timeout=_TIMEOUT_S)
        )
        return convert.cancels_from_ack(ack)

    async def upload(self, pieces: AsyncIterator[FilePiece]) -> None:
        await call(self._upload(pieces, metadata=self._metadata(), timeout=600.0))

    async def report(self, finished: FinishedAttempt) -> None:
        result = convert.finished_to_proto(finished)
        await call(
            self._stub.ReportTaskCompletion(result, metadata=self._metadata(), timeout=_TIMEOUT_S)
        )

    async def progress(
        self, task_id: str, epoch: int, phase: str, at_ms: int, message: str = ""
    ) -> None:
        report = convert.progress_to_proto(task_id, epoch, phase, at_ms, message)
        await call(
            self._stub.ReportTaskProgress(report, metadata=self._metadata(), timeout=_TIMEOUT_S)
        )

    async def close(self) -> None:
        await self._channel.close()
