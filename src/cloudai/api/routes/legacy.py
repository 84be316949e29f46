"""The seed's unversioned paths, in the reference's shapes, for the clients that
already read them (its dashboard among them). Unlike the reference they need a login,
and other users' task ids show only to admins, as everywhere else."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cloudai.api import ws_messages as msg
from cloudai.api.deps import CurrentUser, ServicesDep
from cloudai.domain.workers import WorkerStatus

router = APIRouter(tags=["legacy"])


@router.get("/telemetry")
async def telemetry(user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    """`{worker_id: {worker_id, cpu_usage, memory_usage, gpu_usage, running_tasks,
    last_update, is_active}}` for every worker."""
    views = await services.cluster.workers(user)
    return {v.worker.worker_id: msg.worker_telemetry(v) for v in views}


@router.get("/telemetry/{worker_id}")
async def worker_telemetry(
    worker_id: str, user: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    return msg.worker_telemetry(await services.cluster.worker(user, worker_id))


@router.get("/workers")
async def workers(user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    """`{worker_id: {worker_id, is_active, running_tasks_count, last_update}}`."""
    views = await services.cluster.workers(user)
    return {
        v.worker.worker_id: {
            "worker_id": v.worker.worker_id,
            "is_active": v.worker.status is WorkerStatus.ACTIVE,
            "running_tasks_count": v.running,
            "last_update": v.worker.last_heartbeat.timestamp(),
        }
        for v in views
    }
