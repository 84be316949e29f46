"""The master's object graph, built in one place from its ports (store, clock,
gateway). The process root (app.py) adds servers around it; tests use it directly
with fakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cloudai.domain.lifecycle import Transition
from cloudai.domain.task import TaskStatus
from cloudai.master.accounting import Accounting
from cloudai.master.accounts import AccountService
from cloudai.master.admin import AdminOptions, AdminServices, Parts, build_admin
from cloudai.master.admission import Admission, AdmissionRules
from cloudai.master.agent import AgentLink
from cloudai.master.applier import PlanApplier
from cloudai.master.bus import EventBus, Heartbeat, WorkerChanged
from cloudai.master.cluster import ClusterService
from cloudai.master.dispatcher import Dispatcher
from cloudai.master.files import FileArea
from cloudai.master.gateway import WorkerGateway
from cloudai.master.lifecycle import Lifecycle
from cloudai.master.log_stream import LogStream
from cloudai.master.logs import LogService
from cloudai.master.metrics import Metrics
from cloudai.master.outputs import OutputService
from cloudai.master.registration import Inviter
from cloudai.master.registry import WorkerRegistry
from cloudai.master.snapshot import SnapshotBuilder
from cloudai.master.task_index import TaskIndex
from cloudai.master.tasks import TaskService
from cloudai.master.telemetry import Telemetry
from cloudai.master.throttle import LoginThrottle, ThrottleLimits
from cloudai.master.transitions import TaskWriter
from cloudai.master.uploads import UploadService
from cloudai.master.watch import TaskWatch
from cloudai.ports import Clock, Store


@dataclass(frozen=True, slots=True)
class Services:
    """What the REST adapters may call."""

    accounts: AccountService
    tasks: TaskService
    logs: LogService
    files: FileArea
    registry: WorkerRegistry
    dispatcher: Dispatcher
    cluster: ClusterService
    metrics: Metrics
    outputs: OutputService
    bus: EventBus
    log_stream: LogStream
    admin: AdminServices


@dataclass(frozen=True, slots=True)
class CoreOptions:
    data_dir: Path
    jwt_secret: str
    jwt_ttl_s: int = 24 * 3600
    suspect_after_s: float = 15.0
    lost_after_s: float = 30.0
    schedule_interval_s: float = 1.0
    max_upload_bytes: int = 10 * 1024**3
    scheduler: str = "round_robin"
    fair_share_half_life_s: float = 3600.0
    agent_timeout_s: float = 5.0
    admission: AdmissionRules = field(default_factory=AdmissionRules)
    max_running_per_user: int | None = None
    login_limits: ThrottleLimits = field(default_factory=ThrottleLimits)
    open_registration: bool = True
    registration_ttl_s: float = 600.0  # a worker's one-time registration token
    retention_s: float | None = None  # finished tasks' logs and outputs; None: forever
    master_address: str = ""  # the gRPC address pre-registered workers are told to dial


@dataclass(frozen=True, slots=True)
class MasterCore:
    store: Store
    clock: Clock
    gateway: WorkerGateway
    registry: WorkerRegistry
    lifecycle: Lifecycle
    dispatcher: Dispatcher
    applier: PlanApplier
    accounting: Accounting
    agent: AgentLink
    accounts: AccountService
    tasks: TaskService
    uploads: UploadService
    watch: TaskWatch
    services: Services
    bus: EventBus


def build_core(
    store: Store,
    clock: Clock,
    gateway: WorkerGateway,
    options: CoreOptions,
    *,
    inviter: Inviter | None = None,
) -> MasterCore:
    """`inviter` calls workers' MasterRegister (admins' pre-registration); without
    one, pre-registering answers Unavailable."""
    registry = WorkerRegistry(
        store, clock, suspect_after_s=options.suspect_after_s, lost_after_s=options.lost_after_s
    )
    bus = _event_bus(registry)
    watch = TaskWatch(bus)
    accounting = Accounting(clock, half_life_s=options.fair_share_half_life_s)
    index = TaskIndex()
    writer = TaskWriter(store, bus, [accounting.observe], index)
    lifecycle = Lifecycle(store, clock, writer)
    applier = PlanApplier(store, clock, registry, writer, gateway, lifecycle)
    agent = AgentLink(clock, timeout_s=options.agent_timeout_s)
    dispatcher = Dispatcher(
        SnapshotBuilder(
            store,
            clock,
            registry,
            index,
            accounting,
            max_running_per_user=options.max_running_per_user,
        ),
        applier,
        lifecycle,
        scheduler=options.scheduler,
        interval_s=options.schedule_interval_s,
        agent_active=agent.active,
        request_of=index.request_of,
        target_of=index.target_of,
    )
    writer.observe(lambda _before, t: dispatcher.wake() if _frees_or_queues(t) else None)
    accounts = AccountService(
        store,
        clock,
        jwt_secret=options.jwt_secret,
        ttl_s=options.jwt_ttl_s,
        throttle=LoginThrottle(clock, options.login_limits),
        open_registration=options.open_registration,
    )
    area = FileArea(options.data_dir)
    admission = Admission(store, options.admission)
    tasks = TaskService(
        store, clock, registry, gateway, writer, watch, accounting, admission, dispatcher.wake
    )  # fmt: skip
    uploads = UploadService(store, area, watch, max_bytes=options.max_upload_bytes)
    logs = LogService(tasks, area, registry, gateway)
    cluster, metrics = _observers(store, clock, registry, writer, lifecycle, dispatcher, tasks, bus)
    outputs = OutputService(store, tasks, area)
    log_stream = LogStream(tasks, area, registry, gateway, bus)
    admin = build_admin(
        Parts(store, clock, registry, lifecycle, gateway, tasks, cluster, dispatcher, bus, area),
        AdminOptions(
            grace_s=options.suspect_after_s, registration_ttl_s=options.registration_ttl_s,
            retention_s=options.retention_s, master_address=options.master_address,
        ),
        inviter,
    )  # fmt: skip
    services = Services(
        accounts, tasks, logs, area, registry, dispatcher, cluster, metrics, outputs, bus,
        log_stream, admin,
    )  # fmt: skip
    return MasterCore(
        store, clock, gateway, registry, lifecycle, dispatcher, applier, accounting, agent,
        accounts, tasks, uploads, watch, services, bus,
    )  # fmt: skip


def _event_bus(registry: WorkerRegistry) -> EventBus:
    """The event bus: worker events from the registry here, task events from the writer."""
    bus = EventBus()
    registry.observe_heartbeats(lambda wid, at, usage: bus.publish(Heartbeat(wid, at, usage)))
    registry.observe_changes(
        lambda w: bus.publish(WorkerChanged(w.worker_id, w.status, w.eligibility))
    )
    return bus


def _observers(
    store: Store, clock: Clock, registry: WorkerRegistry, writer: TaskWriter,
    lifecycle: Lifecycle, dispatcher: Dispatcher, tasks: TaskService, bus: EventBus,
) -> tuple[ClusterService, Metrics]:  # fmt: skip
    """The read views and metrics, fed by heartbeats and committed transitions."""
    telemetry = Telemetry()
    registry.observe_heartbeats(telemetry.record)
    metrics = Metrics(store, registry, telemetry, bus)
    writer.observe(metrics.observe_transition)
    cluster = ClusterService(store, clock, registry, lifecycle, dispatcher, telemetry, tasks)
    return cluster, metrics


def _frees_or_queues(transition: Transition) -> bool:
    status = transition.task.status
    return status is TaskStatus.QUEUED or status.is_terminal
