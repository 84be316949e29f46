"""The worker's composition root: executor, gRPC server, master link, loops."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from pathlib import Path

import grpc

from cloudai._proto import cluster_pb2_grpc as pb_grpc
from cloudai.config import WorkerSettings
from cloudai.domain.errors import (
    CloudAIError,
    InvalidRequest,
    NotFound,
    Unauthorized,
    Unavailable,
)
from cloudai.domain.resources import Resources
from cloudai.worker.executors import PullOptions, build_executor
from cloudai.worker.executors.base import Executor, ExecutorError
from cloudai.worker.executors.docker_images import load_registry_auths
from cloudai.worker.gpus import GpuAllocator, GpuDevice, GpuProbe, build_probe, offered_indexes
from cloudai.worker.grpc_service import WorkerService
from cloudai.worker.identity import WorkerIdentity, load_identity
from cloudai.worker.invitation import Invitation
from cloudai.worker.limits import AttemptLimits, SpoolLimits
from cloudai.worker.master_link import MasterLink
from cloudai.worker.network import primary_address
from cloudai.worker.runner import Runner
from cloudai.worker.telemetry import UsageSampler, detect_capacity

logger = logging.getLogger(__name__)

_BACKOFF_MAX_S = 5.0
_TASK_USAGE_TIMEOUT_S = 2.0


class WorkerApp:
    def __init__(
        self,
        settings: WorkerSettings,
        executor: Executor | None = None,
        gpu_probe: GpuProbe | None = None,
    ) -> None:
        self.settings = settings
        self.worker_id = ""
        self.identity = WorkerIdentity("", "")  # loaded from the data directory at start
        self.port = 0
        self.registered = asyncio.Event()
        self.failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._executor = executor
        self._gpu_probe = gpu_probe or build_probe(settings.fake_gpus)
        self._server: grpc.aio.Server | None = None
        self._link: MasterLink | None = None
        self._runner: Runner | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._last_contact = time.monotonic()  # of the last answer from the master
        self.invitation: Invitation | None = None  # --wait-for-master

    async def start(self) -> None:
        s = self.settings
        _check_joining(s)
        # Exclusive port: gRPC's default SO_REUSEPORT would let two workers share one.
        server = self._server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        self.port = server.add_insecure_port(f"{s.host}:{s.port}")
        self.worker_id = s.id or f"{socket.gethostname()}-{self.port}"
        data_dir = s.data_dir / self.worker_id
        identity = self.identity = await asyncio.to_thread(load_identity, data_dir, self.worker_id)
        executor = self._executor or build_executor(
            s.executor, identity, await asyncio.to_thread(_pull_options, s)
        )
        self._executor = executor
        link = self._link = MasterLink(s.master, self.worker_id, s.token.get_secret_value())
        devices = await asyncio.to_thread(self._gpu_probe.devices)
        gpus = GpuAllocator(offered_indexes(devices, s.gpu))
        limits = SpoolLimits(s.spool_max_age_s, s.spool_max_bytes, s.stop_report_s)
        caps = AttemptLimits(s.max_log_bytes, s.max_output_files, s.max_output_bytes)
        runner = self._runner = Runner(self.worker_id, executor, link, data_dir, gpus, limits, caps)
        await _recover(executor, runner)
        if s.wait_for_master:
            self.invitation = Invitation(self.worker_id)
        service = WorkerService(runner, lambda: link.credential, s.stop_grace_s, self.invitation)
        pb_grpc.add_MasterWorkerServicer_to_server(service, server)
        await server.start()
        capacity = await asyncio.to_thread(self._capacity, data_dir, devices)
        sampler = await asyncio.to_thread(UsageSampler, data_dir, self._gpu_probe)
        self._loop_task = asyncio.create_task(self._run(capacity, sampler), name="worker-loop")
        logger.info("worker %s listening on %s:%d", self.worker_id, s.host, self.port)

    def advertised_address(self) -> str:
        """Where the master reaches this worker: --advertise, else the listen address
        (a wildcard listen address advertises this host's primary address)."""
        advertise = self.settings.advertise
        if advertise:
            return advertise if ":" in advertise else f"{advertise}:{self.port}"
        host = self.settings.host
        if host in ("0.0.0.0", "::", ""):
            host = primary_address(self.settings.master)
        if ":" in host:
            host = f"[{host}]"  # an IPv6 address in HOST:PORT form
        return f"{host}:{self.port}"

    def _capacity(self, data_dir: Path, devices: list[GpuDevice]) -> Resources:
        s = self.settings
        seen = detect_capacity(data_dir, devices)
        _log_gpus(devices, s.gpu)
        return Resources(
            s.cpu if s.cpu is not None else seen.cpu,
            s.memory_gb if s.memory_gb is not None else seen.memory_gb,
            s.storage_gb if s.storage_gb is not None else seen.storage_gb,
            s.gpu if s.gpu is not None else seen.gpu,
        )

    async def _run(self, capacity: Resources, sampler: UsageSampler) -> None:
        """Register, then heartbeat; re-register whenever the master forgets us (a
        worker waiting for a master waits for its next invitation first)."""
        try:
            while True:
                if self.invitation is not None:
                    await self._join_invited(capacity)
                else:
                    await self._register(capacity)
                await self._heartbeat_until_forgotten(sampler)
        except Unauthorized as exc:
            logger.error("the master refused this worker: %s", exc)
            if not self.failed.done():
                self.failed.set_exception(exc)

    async def _join_invited(self, capacity: Resources) -> None:
        """Wait for a master's MasterRegister and join it with its one-time token; a
        refused token (expired, used) means waiting for the next invitation."""
        assert self.invitation is not None and self._link is not None
        while True:
            invited = await self.invitation.wait()
            await self._link.invited(invited.master_address, invited.token)
            try:
                await self._register(capacity)
                return
            except Unauthorized as exc:
                logger.error("the master refused the registration (%s); waiting again", exc)

    async def _register(self, capacity: Resources) -> None:
        assert self._link is not None and self._runner is not None
        delay = 0.2
        while True:
            try:
                cluster_id = await self._link.register(
                    self.advertised_address(), capacity, self._runner.held()
                )
                self._last_contact = time.monotonic()
                await asyncio.to_thread(self.identity.joined, cluster_id)
                self.registered.set()
                logger.info("registered with master %s", self._link.address)
                return
            except Unauthorized:
                raise
            except CloudAIError as exc:  # unreachable, or failing: both worth another try
                logger.warning("cannot register with the master (%s); retrying", exc)
                self._check_cut_off()
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, _BACKOFF_MAX_S)

    async def _heartbeat_until_forgotten(self, sampler: UsageSampler) -> None:
        assert self._runner is not None
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                cancels = await self._beat(sampler)
            except (NotFound, Unauthorized):
                self.registered.clear()
                return  # the master lost or never had our registration: join again
            except CloudAIError as exc:
                logger.warning("heartbeat failed: %s", exc)
                self._check_cut_off()
                continue
            except Exception:  # keep beating: silence would get this worker declared lost
                logger.exception("heartbeat failed unexpectedly")
                continue
            self._last_contact = time.monotonic()
            for task_id, epoch in cancels:
                self._runner.cancel(task_id, epoch, self.settings.stop_grace_s)

    def _check_cut_off(self) -> None:
        """Past the disconnect limit without the master, stop what runs: the master may
        have given it to another worker (bounded double execution)."""
        limit = self.settings.disconnect_limit_s
        silent = time.monotonic() - self._last_contact
        if not limit or silent < limit or self._runner is None:
            return
        stopped = self._runner.interrupt_all(self.settings.stop_grace_s)
        if stopped:
            logger.error(
                "no contact with the master for %.0f s (limit %g s): stopped %d attempts",
                silent, limit, stopped,
            )  # fmt: skip

    async def _beat(self, sampler: UsageSampler) -> list[tuple[str, int]]:
        assert self._link is not None and self._runner is not None
        usage = await asyncio.to_thread(sampler.sample)
        return await self._link.heartbeat(usage, self._runner.held(await self._task_usage()))

    async def _task_usage(self) -> dict[tuple[str, int], tuple[float, float]]:
        """What each running attempt uses; a slow daemon costs only this, not the beat."""
        if self._executor is None:
            return {}
        try:
            async with asyncio.timeout(_TASK_USAGE_TIMEOUT_S):
                return await self._executor.usage()
        except TimeoutError:
            logger.warning("task usage not measured in %g s; heartbeat sent without it",
                           _TASK_USAGE_TIMEOUT_S)  # fmt: skip
            return {}

    async def stop(self) -> None:
        """By the shutdown mode (`on_shutdown`): in `drain`, first the running attempts
        to their end (bounded by `drain_timeout_s`), new ones refused; then intake, the
        attempts left (stopped, or in `leave` left running), then links."""
        mode = self.settings.on_shutdown
        if mode == "drain" and self._runner is not None:
            logger.info("draining: no new tasks; waiting for those running to end")
            left = await self._runner.drain(self.settings.drain_timeout_s)
            if left:
                logger.warning("drain timed out with %d tasks unfinished; stopping them", left)
        if self._server is not None:
            await self._server.stop(grace=1.0)
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.close(self.settings.stop_grace_s, mode)
        if self._executor is not None:
            await self._executor.close()
        if self._link is not None:
            await self._link.close()
        logger.info("worker %s stopped", self.worker_id)


async def _recover(executor: Executor, runner: Runner) -> None:
    """What an earlier process of this worker left: results to send again, containers
    still running to adopt, and leftovers (only those no attempt owns) to remove."""
    try:
        leftovers = await executor.leftovers()
        recovered = await runner.recover(leftovers)
        reaped = await executor.reap_orphans(keep={(h.task_id, h.epoch) for h in runner.held()})
    except ExecutorError as exc:
        raise Unavailable(
            f"the {executor.name} executor cannot start: {exc}. Start dockerd, or set "
            "--executor process (CLOUDAI_EXECUTOR=process) to run tasks unsandboxed"
        ) from exc
    if reaped:
        logger.warning("removed %d leftover containers", reaped)
    if recovered.adopted:
        logger.info("re-attached to %d running tasks of a previous run", recovered.adopted)
    if recovered.resent:
        logger.info("%d results of a previous run will be sent again", recovered.resent)


def _pull_options(settings: WorkerSettings) -> PullOptions | None:
    """The docker executor's pulls; its credentials file is read (and checked) here."""
    if settings.executor != "docker":
        return None
    path = settings.registry_auth_file
    auths = load_registry_auths(path) if path is not None else {}
    return PullOptions(settings.pull_policy, settings.pull_timeout_s, auths)


def _log_gpus(devices: list[GpuDevice], setting: int | None) -> None:
    for d in devices:
        logger.info("GPU %d: %s, %.1f GiB (%s)", d.index, d.name, d.memory_gb, d.uuid)
    if setting is not None and setting != len(devices):
        logger.info("offering %d GPUs as configured; %d found", setting, len(devices))


def _check_joining(settings: WorkerSettings) -> None:
    """A worker joins with the join token, or waits for an admin to register it."""
    has_token = bool(settings.token.get_secret_value())
    if has_token and settings.wait_for_master:
        raise InvalidRequest(
            "give either the join token or --wait-for-master (CLOUDAI_WORKER_WAIT_FOR_MASTER)"
        )
    if not has_token and not settings.wait_for_master:
        raise InvalidRequest(
            "no join token: pass --join-token (CLOUDAI_JOIN_TOKEN), or --wait-for-master to "
            "wait until an admin registers this worker (cloudai register ADDRESS)"
        )
