"""Small constructors for snapshots in scheduling tests."""

from __future__ import annotations

from collections import defaultdict

from cloudai.domain.resources import Resources
from cloudai.scheduling.snapshot import Plan, QueuedTaskView, RunningView, Snapshot, WorkerView

NOW = 1_000.0


def res(cpu: float = 1, memory_gb: float = 0.5, storage_gb: float = 1, gpu: int = 0) -> Resources:
    return Resources(cpu, memory_gb, storage_gb, gpu)


def worker(
    worker_id: str,
    cpu: float = 4,
    memory_gb: float = 8,
    gpu: int = 0,
    *,
    free: Resources | None = None,
    schedulable: bool = True,
    cpu_load: float = 0.0,
) -> WorkerView:
    total = Resources(cpu, memory_gb, 100, gpu)
    return WorkerView(worker_id, total, free or total, schedulable, cpu_load=cpu_load)


def task(
    task_id: str,
    cpu: float = 1,
    *,
    user: str = "u1",
    priority: int = 0,
    memory_gb: float = 0.5,
    gpu: int = 0,
    submitted_at: float = NOW - 10,
    target: str | None = None,
    task_type: str = "cpu-light",
    k: float = 2.0,
) -> QueuedTaskView:
    return QueuedTaskView(
        task_id, user, res(cpu, memory_gb, 1, gpu), submitted_at, priority, task_type, k, target
    )


def running(
    task_id: str, worker_id: str, cpu: float = 1, *, user: str = "u1", started_at: float = NOW
) -> RunningView:
    return RunningView(task_id, worker_id, user, res(cpu), started_at, "cpu-light")


def snapshot(
    workers: list[WorkerView],
    queue: list[QueuedTaskView],
    *,
    running_: tuple[RunningView, ...] = (),
    usage: dict[str, float] | None = None,
    cursor: int = 0,
    cap: int | None = None,
    now: float = NOW,
) -> Snapshot:
    return Snapshot(
        now, tuple(workers), tuple(queue), running_, usage or {}, {}, cursor, cap
    )  # fmt: skip


def placed_on(plan: Plan) -> dict[str, str]:
    return {p.task_id: p.worker_id for p in plan.placements}


def used_per_worker(snap: Snapshot, plan: Plan) -> dict[str, Resources]:
    requests = {t.task_id: t.request for t in snap.queue}
    used: dict[str, Resources] = defaultdict(Resources)
    for p in plan.placements:
        used[p.worker_id] = used[p.worker_id] + requests[p.task_id]
    return used
