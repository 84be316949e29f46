"""Prometheus scrape endpoint. Unauthenticated, so it carries aggregates only (see
master/metrics.py): no task ids, users or images."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from cloudai.api.deps import ServicesDep
from cloudai.master.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(services: ServicesDep) -> PlainTextResponse:
    text = await services.metrics.exposition()
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
