"""Master and worker serve the same `cluster.MasterWorker` service, each one half of
it (as in the reference protocol). These bases refuse the other half explicitly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NoReturn

import grpc

from cloudai._proto import cluster_pb2 as pb
from cloudai._proto import cluster_pb2_grpc as pb_grpc

Context = grpc.aio.ServicerContext[Any, Any]


def metadata(context: Context) -> dict[str, str]:
    """The call's text metadata (binary `-bin` entries are left out)."""
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


async def _refuse(context: Context, method: str, side: str) -> NoReturn:
    await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not served by the {side}")
    raise AssertionError("unreachable: abort raises")


class MasterSide(pb_grpc.MasterWorkerServicer):
    """Base of the master's servicer: master -> worker calls are refused."""

    async def MasterRegister(self, request: pb.MasterInfo, context: Context) -> pb.RegisterAck:
        await _refuse(context, "MasterRegister", "master")

    async def AssignTask(self, request: pb.Task, context: Context) -> pb.TaskAck:
        await _refuse(context, "AssignTask (submit over REST)", "master")

    async def AssignTasks(self, request: pb.TaskBatch, context: Context) -> pb.TaskBatchAck:
        await _refuse(context, "AssignTasks (submit over REST)", "master")

    async def CancelTask(self, request: pb.TaskID, context: Context) -> pb.TaskAck:
        await _refuse(context, "CancelTask (cancel over REST)", "master")

    async def StreamTaskLogs(
        self, request: pb.TaskLogRequest, context: Context
    ) -> AsyncIterator[pb.LogChunk]:
        await _refuse(context, "StreamTaskLogs", "master")
        yield pb.LogChunk()  # pragma: no cover - makes this an async generator


class WorkerSide(pb_grpc.MasterWorkerServicer):
    """Base of the worker's servicer: worker -> master calls are refused."""

    async def RegisterWorker(self, request: pb.WorkerInfo, context: Context) -> pb.RegisterAck:
        await _refuse(context, "RegisterWorker", "worker")

    async def SendHeartbeat(self, request: pb.Heartbeat, context: Context) -> pb.HeartbeatAck:
        await _refuse(context, "SendHeartbeat", "worker")

    async def ReportTaskCompletion(self, request: pb.TaskResult, context: Context) -> pb.Ack:
        await _refuse(context, "ReportTaskCompletion", "worker")

    async def UploadTaskFiles(
        self, request_iterator: AsyncIterator[pb.FileChunk], context: Context
    ) -> pb.FileUploadAck:
        await _refuse(context, "UploadTaskFiles", "worker")

    async def ReportTaskProgress(self, request: pb.TaskProgress, context: Context) -> pb.Ack:
        await _refuse(context, "ReportTaskProgress", "worker")
