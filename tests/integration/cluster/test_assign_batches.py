"""The master's gateway hands a worker several attempts in one AssignTasks call, each
accepted or refused on its own; a worker without that call (an older release) gets one
AssignTask each, and is not asked for AssignTasks again."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import pytest

from cloudai._proto import cluster_pb2 as pb
from cloudai._proto import cluster_pb2_grpc as pb_grpc
from cloudai.domain.resources import Resources
from cloudai.domain.task import Task, TaskStatus
from cloudai.domain.workers import Worker, WorkerStatus
from cloudai.master.worker_client import GrpcWorkerGateway
from cloudai.rpc.servicers import Context
from tests.unit.master.test_task_index import AT, task


class OldWorker(pb_grpc.MasterWorkerServicer):
    """A worker from before AssignTasks: refuses tasks whose id starts with "bad"."""

    def __init__(self) -> None:
        self.batches = 0
        self.singles: list[str] = []

    async def AssignTasks(self, request: pb.TaskBatch, context: Context) -> pb.TaskBatchAck:
        self.batches += 1
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")
        raise AssertionError("unreachable")

    async def AssignTask(self, request: pb.Task, context: Context) -> pb.TaskAck:
        self.singles.append(request.task_id)
        if request.task_id.startswith("bad"):
            return pb.TaskAck(success=False, message="refused: no GPU free")
        return pb.TaskAck(success=True, message="accepted")


class NewWorker(OldWorker):
    async def AssignTasks(self, request: pb.TaskBatch, context: Context) -> pb.TaskBatchAck:
        self.batches += 1
        return pb.TaskBatchAck(acks=[pb.TaskAck(success=not t.task_id.startswith("bad"),
                                                message="refused: no GPU free")
                                     for t in request.tasks])  # fmt: skip


@asynccontextmanager
async def _serving(servicer: OldWorker) -> AsyncIterator[Worker]:
    server = grpc.aio.server()
    pb_grpc.add_MasterWorkerServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield Worker("w1", f"127.0.0.1:{port}", Resources(8, 8, 8), WorkerStatus.ACTIVE, AT, AT)
    finally:
        await server.stop(None)


def _placed(task_id: str) -> Task:
    return dataclasses.replace(task(task_id), status=TaskStatus.ASSIGNED, epoch=1, worker_id="w1")


@pytest.mark.parametrize("kind", [NewWorker, OldWorker])
async def test_each_task_of_a_batch_is_accepted_or_refused_on_its_own(
    kind: type[OldWorker],
) -> None:
    servicer = kind()
    gateway = GrpcWorkerGateway("j" * 32, timeout_s=5)
    try:
        async with _serving(servicer) as worker:
            tasks = [_placed("a"), _placed("bad-b"), _placed("c")]
            assert await gateway.assign(worker, tasks) == [None, "refused: no GPU free", None]
            assert await gateway.assign(worker, [_placed("d")]) == [None]
    finally:
        await gateway.close()
    if kind is NewWorker:
        assert (servicer.batches, servicer.singles) == (2, [])
    else:  # asked once, then one call each
        assert (servicer.batches, servicer.singles) == (1, ["a", "bad-b", "c", "d"])
