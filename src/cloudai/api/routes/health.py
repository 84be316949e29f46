from __future__ import annotations

import time

from fastapi import APIRouter

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
