"""Probes, unauthenticated: /livez (the process answers), /readyz (it can do its job:
the database answers and the scheduling loop runs), and the reference's /health."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from cloudai.api.cluster_schemas import ReadyOut
from cloudai.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(services: ServicesDep) -> dict[str, object]:
    workers = services.registry.all()
    return {
        "status": "healthy",
        "time": int(time.time()),
        "workers": len(workers),
        "active_workers": len(services.registry.active()),
    }


@router.get("/livez")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
async def readyz(services: ServicesDep) -> JSONResponse:
    readiness = await services.cluster.readiness()
    body = ReadyOut.of(readiness).model_dump()
    return JSONResponse(body, status_code=200 if readiness.ready else 503)
