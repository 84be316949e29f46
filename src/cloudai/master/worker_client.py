"""The real WorkerGateway: gRPC calls to workers over one reused channel per address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import cast

import grpc

from cloudai._proto import cluster_pb2 as pb
from cloudai._proto import cluster_pb2_grpc as pb_grpc
from cloudai.domain.errors import CloudAIError, Unavailable
from cloudai.domain.task import Task
from cloudai.domain.workers import Worker
from cloudai.master.gateway import LogPiece
from cloudai.rpc import convert
from cloudai.rpc.credentials import CREDENTIAL_HEADER, worker_credential
from cloudai.rpc.errors import call, from_rpc_error, stream

_REFUSED = "worker refused the task"


class GrpcWorkerGateway:
    def __init__(self, join_token: str, *, timeout_s: float) -> None:
        self._join_token = join_token
        self._timeout_s = timeout_s
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[str, pb_grpc.MasterWorkerStub] = {}
        self._one_at_a_time: set[str] = set()  # addresses of workers without AssignTasks

    def _stub(self, worker: Worker) -> pb_grpc.MasterWorkerStub:
        stub = self._stubs.get(worker.address)
        if stub is None:
            channel = grpc.aio.insecure_channel(worker.address)
            self._channels[worker.address] = channel
            stub = self._stubs[worker.address] = pb_grpc.MasterWorkerStub(channel)
        return stub

    def _metadata(self, worker: Worker) -> tuple[tuple[str, str], ...]:
        return ((CREDENTIAL_HEADER, worker_credential(self._join_token, worker.worker_id)),)

    async def assign(self, worker: Worker, tasks: Sequence[Task]) -> list[str | None]:
        if worker.address not in self._one_at_a_time:
            batch = pb.TaskBatch(tasks=[convert.task_to_proto(t) for t in tasks])
            try:
                answer = await self._stub(worker).AssignTasks(
                    batch, metadata=self._metadata(worker), timeout=self._timeout_s
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() is not grpc.StatusCode.UNIMPLEMENTED:
                    raise from_rpc_error(exc) from exc
                self._one_at_a_time.add(worker.address)  # an older worker: one call each
            else:
                if len(answer.acks) != len(tasks):
                    raise CloudAIError(f"{len(answer.acks)} answers for {len(tasks)} tasks")
                return [None if a.success else (a.message or _REFUSED) for a in answer.acks]
        return await self._one_by_one(worker, tasks)

    async def _one_by_one(self, worker: Worker, tasks: Sequence[Task]) -> list[str | None]:
        """AssignTask for each; unreachable before the first was handed over raises,
        after it refuses the rest (those handed over stand)."""
        answers: list[str | None] = []
        for task in tasks:
            try:
                ack = await call(
                    self._stub(worker).AssignTask(
                        convert.task_to_proto(task),
                        metadata=self._metadata(worker),
                        timeout=self._timeout_s,
                    )
                )
            except Unavailable as exc:
                if not answers:
                    raise
                return answers + [str(exc)] * (len(tasks) - len(answers))
            except CloudAIError as exc:
                answers.append(str(exc))
                continue
            answers.append(None if ack.success else (ack.message or _REFUSED))
        return answers

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
        self._stubs.clear()
