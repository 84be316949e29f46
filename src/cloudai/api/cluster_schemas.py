"""Response bodies of the cluster routes: workers, the queue, stats, readiness.
Keys follow the reference API where it had one (`total_resources`, …)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from cloudai.api.routes.scheduling import RateOut, SlaOut
from cloudai.domain.resources import Resources
from cloudai.domain.task import Task
from cloudai.domain.workers import TaskUsage, Usage, WorkerStatus
from cloudai.master.cluster import ClusterStats, QueueEntry, Readiness, WorkerView
from cloudai.master.telemetry import Sample


class ResourcesOut(BaseModel):
    """Cores, GiB, GiB, whole GPUs."""

    cpu: float
    memory: float
    storage: float
    gpu: int

    @classmethod
    def of(cls, r: Resources) -> ResourcesOut:
        return cls(cpu=r.cpu, memory=r.memory_gb, storage=r.storage_gb, gpu=r.gpu)


class UsageOut(BaseModel):
    """Percentages 0-100 from the worker's last heartbeat."""

    cpu: float
    memory: float
    storage: float
    gpu: float

    @classmethod
    def of(cls, u: Usage) -> UsageOut:
        return cls(cpu=u.cpu, memory=u.memory, storage=u.storage, gpu=u.gpu)


class TaskUsageOut(BaseModel):
    """What a running attempt uses now (its container's cgroup), from its worker's last
    heartbeat."""

    cpu: float  # cores (1.0: one whole core)
    memory_gb: float

    @classmethod
    def of(cls, u: TaskUsage | None) -> TaskUsageOut | None:
        return None if u is None else cls(cpu=u.cpu, memory_gb=u.memory_gb)


class HeldTaskOut(BaseModel):
    """A task holding resources on a worker."""

    task_id: str
    name: str
    user_id: str
    status: str
    task_type: str
    priority: int
    request: ResourcesOut
    attempt: int
    started_at: datetime | None
    updated_at: datetime
    usage: TaskUsageOut | None = None  # null: not measured (yet), or not running

    @classmethod
    def of(cls, t: Task, used: TaskUsage | None = None) -> HeldTaskOut:
        return cls(
            task_id=t.task_id, name=t.name, user_id=t.user_id, status=t.status.value,
            task_type=t.task_type, priority=t.priority, request=ResourcesOut.of(t.request),
            attempt=t.epoch, started_at=t.started_at, updated_at=t.updated_at,
            usage=TaskUsageOut.of(used),
        )  # fmt: skip


class WorkerOut(BaseModel):
    worker_id: str
    address: str
    status: str
    is_active: bool  # status == "active": the seed dashboard's key
    eligibility: str
    total_resources: ResourcesOut
    allocated_resources: ResourcesOut
    available_resources: ResourcesOut
    usage: UsageOut
    last_heartbeat: datetime
    registered_at: datetime
    running_tasks_count: int
    task_ids: list[str]  # only the caller's own, unless an admin asks

    @classmethod
    def fields_of(cls, view: WorkerView) -> dict[str, object]:
        w = view.worker
        return {
            "worker_id": w.worker_id, "address": w.address, "status": w.status.value,
            "is_active": w.status is WorkerStatus.ACTIVE,
            "eligibility": w.eligibility.value, "total_resources": ResourcesOut.of(w.total),
            "allocated_resources": ResourcesOut.of(view.allocated),
            "available_resources": ResourcesOut.of(view.available),
            "usage": UsageOut.of(w.usage), "last_heartbeat": w.last_heartbeat,
            "registered_at": w.registered_at, "running_tasks_count": view.running,
            "task_ids": [t.task_id for t in view.tasks],
        }  # fmt: skip

    @classmethod
    def of(cls, view: WorkerView) -> WorkerOut:
        return cls.model_validate(cls.fields_of(view))


class WorkerDetailOut(WorkerOut):
    tasks: list[HeldTaskOut]

    @classmethod
    def detail(cls, view: WorkerView) -> WorkerDetailOut:
        usage = view.worker.usage
        tasks = [HeldTaskOut.of(t, usage.of_task(t.task_id, t.epoch)) for t in view.tasks]
        return cls.model_validate({**cls.fields_of(view), "tasks": tasks})


class WorkerListOut(BaseModel):
    workers: list[WorkerOut]


class WorkerTasksOut(BaseModel):
    worker_id: str
    tasks: list[HeldTaskOut]
    count: int


class SampleOut(BaseModel):
    at: datetime
    cpu: float
    memory: float
    storage: float
    gpu: float

    @classmethod
    def of(cls, s: Sample) -> SampleOut:
        u = s.usage
        return cls(at=s.at, cpu=u.cpu, memory=u.memory, storage=u.storage, gpu=u.gpu)


class WorkerMetricsOut(BaseModel):
    worker_id: str
    samples: list[SampleOut]  # oldest first
    max_samples: int


class QueueEntryOut(BaseModel):
    position: int | None
    task_id: str
    user_id: str
    name: str
    priority: int
    task_type: str
    request: ResourcesOut
    pending_reason: str | None
    target_worker_id: str | None
    queued_at: datetime

    @classmethod
    def of(cls, e: QueueEntry) -> QueueEntryOut:
        t = e.task
        return cls(
            position=e.position, task_id=t.task_id, user_id=t.user_id, name=t.name,
            priority=t.priority, task_type=t.task_type, request=ResourcesOut.of(t.request),
            pending_reason=e.pending_reason, target_worker_id=t.target_worker_id,
            queued_at=t.created_at,
        )  # fmt: skip


class QueueOut(BaseModel):
    tasks: list[QueueEntryOut]
    total: int
    limit: int
    next_cursor: str | None


class ClusterResourcesOut(BaseModel):
    total: ResourcesOut
    allocated: ResourcesOut
    available: ResourcesOut


class StatsOut(BaseModel):
    workers: dict[str, int]
    resources: ClusterResourcesOut  # over active workers
    tasks: dict[str, int]
    queue_depth: int
    sla: SlaOut

    @classmethod
    def of(cls, s: ClusterStats) -> StatsOut:
        resources = ClusterResourcesOut(
            total=ResourcesOut.of(s.total),
            allocated=ResourcesOut.of(s.allocated),
            available=ResourcesOut.of(s.available),
        )
        sla = SlaOut(
            by_type={k: RateOut.of(v) for k, v in s.sla.by_type.items()},
            by_scheduler={k: RateOut.of(v) for k, v in s.sla.by_scheduler.items()},
        )
        return cls(
            workers={k.value: n for k, n in s.workers.items()},
            resources=resources,
            tasks={k.value: n for k, n in s.tasks.items()},
            queue_depth=s.queue_depth,
            sla=sla,
        )


class CheckOut(BaseModel):
    ok: bool
    detail: str


class ReadyOut(BaseModel):
    status: str  # "ready" | "not_ready"
    checks: dict[str, CheckOut]

    @classmethod
    def of(cls, r: Readiness) -> ReadyOut:
        return cls(
            status="ready" if r.ready else "not_ready",
            checks={c.name: CheckOut(ok=c.ok, detail=c.detail) for c in r.checks},
        )
