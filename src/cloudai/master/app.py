"""The master's composition root: settings in, running servers out; stop in a fixed order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import uvicorn
from pydantic import SecretStr

from cloudai._proto import agent_pb2_grpc
from cloudai._proto import cluster_pb2_grpc as pb_grpc
from cloudai.api.app import create_app
from cloudai.config import MasterSettings
from cloudai.domain.errors import Unavailable
from cloudai.fileutil import write_atomically
from cloudai.master.admin import maintain
from cloudai.master.admission import AdmissionRules
from cloudai.master.agent_service import MasterAgentService
from cloudai.master.core import CoreOptions, MasterCore, Services, build_core
from cloudai.master.grpc_service import MasterWorkerService
from cloudai.master.identity import cluster_identity
from cloudai.master.invite_client import GrpcInviter
from cloudai.master.throttle import ThrottleLimits
from cloudai.master.worker_client import GrpcWorkerGateway
from cloudai.ports import Store, SystemClock
from cloudai.store.sql import open_store

logger = logging.getLogger(__name__)

_GRPC_MAX_MESSAGE = 8 * 1024 * 1024


def load_or_create_secret(path: Path, given: str | None, length: int = 32) -> str:
    """A configured secret wins; otherwise one generated on first start, kept 0600."""
    if given:
        return given
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(length)
    write_atomically(path, f"{value}\n".encode(), mode=0o600)
    return value


@dataclass(frozen=True, slots=True)
class MasterSecrets:
    join_token: str
    jwt_secret: str
    admin_password: str
    agent_token: str  # what a scheduling agent presents (MasterAgent)


def master_secrets(settings: MasterSettings) -> MasterSecrets:
    def given(value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None

    secret_dir = settings.data_dir / "secrets"
    return MasterSecrets(
        join_token=load_or_create_secret(secret_dir / "join-token", given(settings.join_token)),
        jwt_secret=load_or_create_secret(secret_dir / "jwt-secret", given(settings.jwt_secret)),
        admin_password=load_or_create_secret(
            secret_dir / "admin-password", given(settings.admin_password), 12
        ),
        agent_token=load_or_create_secret(secret_dir / "agent-token", given(settings.agent_token)),
    )


def login_limits(s: MasterSettings) -> ThrottleLimits:
    return ThrottleLimits(
        per_pair=s.login_failures_per_pair,
        per_address=s.login_failures_per_address,
        per_account=s.login_failures_per_account,
        window_s=s.login_window_s,
        max_keys=s.login_tracked_max,
    )


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise Unavailable(f"cannot listen for HTTP on {host}:{port}: {exc.strerror}") from exc


class _QuietServer(uvicorn.Server):
    """Uvicorn inside our own loop: signals belong to the process's composition root."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class MasterApp:
    def __init__(self, settings: MasterSettings) -> None:
        self.settings = settings
        self.secrets = master_secrets(settings)
        self.grpc_port = 0
        self.cluster_id = ""  # known once started
        self.http_port = 0
        self._store: Store | None = None
        self._gateway: GrpcWorkerGateway | None = None
        self._grpc: grpc.aio.Server | None = None
        self._http: _QuietServer | None = None
        self._serving: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._placing: asyncio.Task[None] | None = None  # the dispatcher's loop
        self.core: MasterCore | None = None
        self.admin_password_works = False

    async def start(self) -> None:
        """Start everything; if any part fails (say, a port in use), what did start is
        stopped again and the error is raised."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        s = self.settings
        store = self._store = await open_store(s.database_url())
        self.cluster_id = await cluster_identity(store, s.data_dir)
        gateway = self._gateway = GrpcWorkerGateway(
            self.secrets.join_token, timeout_s=s.assign_timeout_s
        )
        options = CoreOptions(
            data_dir=s.data_dir,
            jwt_secret=self.secrets.jwt_secret,
            jwt_ttl_s=s.jwt_ttl_s,
            suspect_after_s=s.heartbeat_suspect_s,
            lost_after_s=s.heartbeat_lost_s,
            schedule_interval_s=s.schedule_interval_s,
            max_upload_bytes=s.max_upload_bytes,
            scheduler=s.scheduler,
            fair_share_half_life_s=s.fair_share_half_life_s,
            agent_timeout_s=s.agent_timeout_s,
            login_limits=login_limits(s),
            open_registration=s.registration == "open",
            admission=AdmissionRules(s.registry_policy(), s.max_queued_per_user),
            max_running_per_user=s.max_running_per_user,
            registration_ttl_s=s.registration_ttl_s,
            retention_s=s.retention_s(),
            master_address=s.grpc_advertise or "",
        )
        inviter = GrpcInviter(timeout_s=s.assign_timeout_s)
        core = self.core = build_core(store, SystemClock(), gateway, options, inviter=inviter)
        await core.registry.load()
        await core.accounting.load(store)
        self.admin_password_works = await core.accounts.ensure_admin(
            s.admin_email, self.secrets.admin_password
        )
        if not self.admin_password_works:
            logger.warning("the admin account exists with another password; kept it")
        await self._start_grpc(
            MasterWorkerService(
                self.secrets.join_token,
                core.registry,
                core.lifecycle,
                core.dispatcher,
                core.uploads,
                reconcile_grace_s=s.heartbeat_suspect_s,
                cluster_id=self.cluster_id,
                registrations=core.services.admin.registrations,
                on_report=core.services.admin.audit.reported,
            ),
            MasterAgentService(
                self.secrets.agent_token, core.agent, core.dispatcher, core.applier, core.registry
            ),
        )
        if not s.grpc_advertise:
            core.services.admin.registrations.advertise(f"{s.grpc_host}:{self.grpc_port}")
        await self._start_http(core.services)
        upkeep = maintain(core.services.admin, core.clock, max(s.heartbeat_suspect_s / 5, 0.5))
        self._placing = asyncio.create_task(core.dispatcher.run(), name="dispatcher")
        self._tasks = [
            self._placing,
            asyncio.create_task(self._watch_liveness(core), name="liveness"),
            asyncio.create_task(upkeep, name="maintenance"),
        ]
        logger.info("master started", extra={"http": self.http_port, "grpc": self.grpc_port})

    async def _start_grpc(self, service: MasterWorkerService, agent: MasterAgentService) -> None:
        server = self._grpc = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", _GRPC_MAX_MESSAGE),
                ("grpc.max_send_message_length", _GRPC_MAX_MESSAGE),
                # gRPC shares ports by default (SO_REUSEPORT): a second master on the
                # same port would silently split the workers' calls with the first.
                ("grpc.so_reuseport", 0),
            ]
        )
        pb_grpc.add_MasterWorkerServicer_to_server(service, server)
        agent_pb2_grpc.add_MasterAgentServicer_to_server(agent, server)
        address = f"{self.settings.grpc_host}:{self.settings.grpc_port}"
        try:
            self.grpc_port = server.add_insecure_port(address)
        except RuntimeError as exc:  # grpcio's way of saying the bind failed
            raise Unavailable(f"cannot listen for gRPC on {address}: {exc}") from exc
        await server.start()

    async def _start_http(self, services: Services) -> None:
        # Bound here, not by uvicorn: a port in use is then a clear error, not an exit.
        sock = _listen(self.settings.http_host, self.settings.http_port)
        config = uvicorn.Config(
            create_app(services, cors_origins=self.settings.cors_origin_list()),
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_level="warning",
            lifespan="off",
            # Compressing every log chunk cost the master more CPU than it saved on a
            # LAN (the logs benchmark: the send was most of its time).
            ws_per_message_deflate=False,
        )
        server = self._http = _QuietServer(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="http")
        while not server.started:
            if serving.done():
                await serving  # surfaces the bind error
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.02)
        self.http_port = sock.getsockname()[1]
        self._serving = serving

    async def _watch_liveness(self, core: MasterCore) -> None:
        """Lost workers' attempts end; attempts past their timeout end and are stopped."""
        interval = max(self.settings.heartbeat_suspect_s / 5, 0.5)
        while True:
            await asyncio.sleep(interval)
            try:
                for worker_id in await core.registry.check_liveness():
                    await core.dispatcher.worker_lost(worker_id)
                for task in await core.lifecycle.timed_out():
                    await core.tasks.stop_on_worker(task)
            except Exception:  # one failed check must not end liveness tracking
                logger.exception("liveness check failed; retrying")

    async def stop_placing(self) -> None:
        """Place nothing more and let the assignments already claimed go out (or be
        refused). `cloudai up` calls it before stopping its workers: their interrupted
        tasks then wait in the queue instead of being placed on a worker that stops."""
        if self.core is None or self._placing is None:
            return
        self.core.dispatcher.finish()
        await self._placing
        await self.core.applier.settle()

    async def stop(self) -> None:
        """Intake first (HTTP, gRPC), then the loops, then connections, then the store."""
        if self.core is not None:
            self.core.bus.close()  # ends open streams and waits, which HTTP waits for
        if self._http is not None and self._serving is not None:
            self._http.should_exit = True
            await self._serving
        self._http = self._serving = None
        if self._grpc is not None:
            await self._grpc.stop(grace=2.0)
            self._grpc = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.core is not None:
            await self.core.applier.close()
        if self._gateway is not None:
            await self._gateway.close()
        if self._store is not None:
            await self._store.close()
        self._gateway = self._store = None
        logger.info("master stopped")
