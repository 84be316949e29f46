"""Workers as the master sees them: liveness, eligibility, resources, what they hold,
recent heartbeat samples; and the admin's drain / cordon / open."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cloudai.api.cluster_schemas import (
    HeldTaskOut,
    SampleOut,
    WorkerDetailOut,
    WorkerListOut,
    WorkerMetricsOut,
    WorkerOut,
    WorkerTasksOut,
)
from cloudai.api.deps import CurrentUser, ServicesDep
from cloudai.api.routes.scheduling import AdminUser
from cloudai.domain.workers import Eligibility
from cloudai.master.telemetry import DEFAULT_SAMPLES

router = APIRouter(tags=["workers"])

SampleCount = Annotated[int, Query(ge=1, le=DEFAULT_SAMPLES)]


@router.get("/api/workers")
async def list_workers(user: CurrentUser, services: ServicesDep) -> WorkerListOut:
    views = await services.cluster.workers(user)
    return WorkerListOut(workers=[WorkerOut.of(v) for v in views])


@router.get("/api/workers/{worker_id}")
async def get_worker(worker_id: str, user: CurrentUser, services: ServicesDep) -> WorkerDetailOut:
    return WorkerDetailOut.detail(await services.cluster.worker(user, worker_id))


@router.get("/api/workers/{worker_id}/tasks")
async def worker_tasks(worker_id: str, user: CurrentUser, services: ServicesDep) -> WorkerTasksOut:
    tasks = await services.cluster.worker_tasks(user, worker_id)
    return WorkerTasksOut(
        worker_id=worker_id,
        tasks=[HeldTaskOut.of(t, services.cluster.task_usage(t)) for t in tasks],
        count=len(tasks),
    )


@router.get("/api/workers/{worker_id}/metrics")
async def worker_metrics(
    worker_id: str, user: CurrentUser, services: ServicesDep, limit: SampleCount = DEFAULT_SAMPLES
) -> WorkerMetricsOut:
    """The worker's recent heartbeat samples, oldest first (the last `limit`)."""
    samples = services.cluster.worker_samples(worker_id, limit)
    return WorkerMetricsOut(
        worker_id=worker_id,
        samples=[SampleOut.of(s) for s in samples],
        max_samples=DEFAULT_SAMPLES,
    )


async def _set(
    worker_id: str, to: Eligibility, user: AdminUser, services: ServicesDep
) -> WorkerOut:
    return WorkerOut.of(await services.cluster.set_eligibility(user, worker_id, to))


@router.post("/api/admin/workers/{worker_id}/drain")
async def drain(worker_id: str, user: AdminUser, services: ServicesDep) -> WorkerOut:
    """Takes nothing new, finishes what it runs."""
    return await _set(worker_id, Eligibility.DRAINING, user, services)


@router.post("/api/admin/workers/{worker_id}/cordon")
async def cordon(worker_id: str, user: AdminUser, services: ServicesDep) -> WorkerOut:
    return await _set(worker_id, Eligibility.CORDONED, user, services)


@router.post("/api/admin/workers/{worker_id}/open")
async def reopen(worker_id: str, user: AdminUser, services: ServicesDep) -> WorkerOut:
    return await _set(worker_id, Eligibility.OPEN, user, services)
