"""Cluster-wide views: the queue in placement order, and counts for dashboards."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cloudai.api.cluster_schemas import QueueEntryOut, QueueOut, StatsOut
from cloudai.api.deps import CurrentUser, ServicesDep

router = APIRouter(tags=["cluster"])

MAX_QUEUE_PAGE = 1000

QueuePageSize = Annotated[int, Query(ge=1, le=MAX_QUEUE_PAGE)]
Cursor = Annotated[str | None, Query(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/api/queue")
async def queue(
    user: CurrentUser, services: ServicesDep, cursor: Cursor = None, limit: QueuePageSize = 100
) -> QueueOut:
    """Queued tasks (yours; an admin's: all) in queue order; pass `next_cursor` back
    as `cursor` for the next page."""
    page = await services.cluster.queue(user, cursor, limit)
    return QueueOut(
        tasks=[QueueEntryOut.of(e) for e in page.entries],
        total=page.total,
        limit=limit,
        next_cursor=page.next_cursor,
    )


@router.get("/api/stats")
async def stats(user: CurrentUser, services: ServicesDep) -> StatsOut:
    return StatsOut.of(await services.cluster.stats())
