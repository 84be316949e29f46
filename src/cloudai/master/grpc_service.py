"""The master's gRPC face: thin adapters over the registry, lifecycle and uploads.

Authentication: RegisterWorker needs the cluster join token, or a one-time
registration token from an admin's pre-registration (registration.py); every other
call needs the worker id and its credential in metadata (see credentials.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from cloudai._proto import cluster_pb2 as pb
from cloudai.domain.attempts import PHASE_STARTED
from cloudai.domain.errors import CloudAIError, InvalidRequest, Unauthorized
from cloudai.master.dispatcher import Dispatcher
from cloudai.master.lifecycle import Lifecycle
from cloudai.master.registration import RegistrationService
from cloudai.master.registry import WorkerRegistry
from cloudai.master.uploads import KIND_OUTPUT, UploadChunk, UploadService
from cloudai.rpc import convert
from cloudai.rpc.credentials import (
    CREDENTIAL_HEADER,
    JOIN_TOKEN_HEADER,
    REGISTRATION_TOKEN_HEADER,
    WORKER_ID_HEADER,
    same_secret,
    worker_credential,
)
from cloudai.rpc.errors import abort_with
from cloudai.rpc.servicers import Context, MasterSide, metadata

logger = logging.getLogger(__name__)


class MasterWorkerService(MasterSide):
    def __init__(
        self,
        join_token: str,
        registry: WorkerRegistry,
        lifecycle: Lifecycle,
        dispatcher: Dispatcher,
        uploads: UploadService,
        *,
        reconcile_grace_s: float,
        cluster_id: str = "",
        registrations: RegistrationService | None = None,
        on_report: Callable[[str, list[tuple[str, int, bool]]], None] | None = None,
    ) -> None:
        """`on_report(worker_id, running)` sees each heartbeat's attempts (fix-resources)."""
        self._registrations = registrations
        self._on_report = on_report
        self._reconcile_grace_s = reconcile_grace_s
        self._cluster_id = cluster_id
        self._join_token = join_token
        self._registry = registry
        self._lifecycle = lifecycle
        self._dispatcher = dispatcher
        self._uploads = uploads

    def _caller(self, context: Context) -> str:
        """The authenticated worker id of this call."""
        meta = metadata(context)
        worker_id = meta.get(WORKER_ID_HEADER, "")
        given = meta.get(CREDENTIAL_HEADER, "")
        expected = worker_credential(self._join_token, worker_id)
        if not worker_id or not same_secret(given, expected):
            raise Unauthorized("missing or invalid worker credential")
        return worker_id

    async def RegisterWorker(self, request: pb.WorkerInfo, context: Context) -> pb.RegisterAck:
        try:
            if not request.worker_id or not request.worker_ip:
                raise InvalidRequest("worker_id and worker_ip are required")
            total = convert.resources_from_worker_info(request)
            address = await self._admitted(context, request.worker_id, request.worker_ip)
            await self._registry.register(request.worker_id, address, total)
            running = convert.running_from_proto(list(request.running_tasks))
            alive = [(task_id, epoch) for task_id, epoch, _ in running]
            await self._dispatcher.worker_registered(request.worker_id, alive)
        except CloudAIError as exc:
            await abort_with(context, exc)
        credential = worker_credential(self._join_token, request.worker_id)
        return pb.RegisterAck(
            success=True, message="registered", worker_credential=credential,
            cluster_id=self._cluster_id,
        )  # fmt: skip

    async def _admitted(self, context: Context, worker_id: str, worker_ip: str) -> str:
        """Check the join token, else redeem a registration token (once); the address
        to dial the worker at (a pre-registered one: the address the admin gave)."""
        meta = metadata(context)
        if same_secret(meta.get(JOIN_TOKEN_HEADER, ""), self._join_token):
            return worker_ip
        once = meta.get(REGISTRATION_TOKEN_HEADER, "")
        if once and self._registrations is not None:
            registration = await self._registrations.redeem(once, worker_id)
            if registration is not None:
                return registration.address
        raise Unauthorized("invalid cluster join token or registration token")

    async def SendHeartbeat(self, request: pb.Heartbeat, context: Context) -> pb.HeartbeatAck:
        try:
            worker_id = self._caller(context)
            await self._registry.heartbeat(worker_id, convert.usage_from_heartbeat(request))
            running = convert.running_from_proto(list(request.running_tasks))
            if self._on_report is not None:
                self._on_report(worker_id, running)
            kill = await self._lifecycle.reconcile(
                worker_id, running, grace_s=self._reconcile_grace_s
            )
        except CloudAIError as exc:
            await abort_with(context, exc)
        return pb.HeartbeatAck(
            success=True, cancel=[pb.TaskEpoch(task_id=t, epoch=e) for t, e in kill]
        )

    async def ReportTaskCompletion(self, request: pb.TaskResult, context: Context) -> pb.Ack:
        try:
            worker_id = self._caller(context)
            task = await self._lifecycle.finished(convert.report_from_proto(request, worker_id))
        except CloudAIError as exc:
            await abort_with(context, exc)
        self._dispatcher.wake()
        # A stale or repeated report is acknowledged too: the worker may forget it.
        message = "recorded" if task else "already final or superseded; ignored"
        return pb.Ack(success=True, message=message)

    async def ReportTaskProgress(self, request: pb.TaskProgress, context: Context) -> pb.Ack:
        try:
            worker_id = self._caller(context)
            task = None
            step = convert.progress_text(request)
            if request.phase == PHASE_STARTED:
                task = await self._lifecycle.started(request.task_id, request.epoch, worker_id)
            elif step is not None:
                task = await self._lifecycle.progressed(
                    request.task_id, request.epoch, worker_id, step
                )
        except CloudAIError as exc:
            await abort_with(context, exc)
        # A repeated or stale report is acknowledged too: the worker may forget it.
        return pb.Ack(success=True, message="recorded" if task else "ignored")

    async def UploadTaskFiles(
        self, request_iterator: AsyncIterator[pb.FileChunk], context: Context
    ) -> pb.FileUploadAck:
        try:
            worker_id = self._caller(context)
            count = await self._uploads.receive(worker_id, _chunks(request_iterator))
        except CloudAIError as exc:
            await abort_with(context, exc)
        return pb.FileUploadAck(success=True, message="stored", files_received=count)


async def _chunks(messages: AsyncIterator[pb.FileChunk]) -> AsyncIterator[UploadChunk]:
    async for m in messages:
        yield UploadChunk(
            task_id=m.task_id,
            epoch=m.epoch,
            path=m.file_path,
            data=m.data,
            last_chunk=m.is_last_chunk,
            kind=m.kind or KIND_OUTPUT,
            sha256=m.sha256,
        )
