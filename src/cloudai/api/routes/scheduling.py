"""The queue's placement policy and its results: SLA hit rates for everyone, the
scheduler in use for admins (who may switch it at run time)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from cloudai.api.deps import CurrentUser, ServicesDep, current_user
from cloudai.domain.errors import Forbidden
from cloudai.domain.users import Role, User
from cloudai.master.tasks import HitRate

router = APIRouter(tags=["scheduling"])


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if user.role is not Role.ADMIN:
        raise Forbidden("admins only")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


class RateOut(BaseModel):
    met: int
    total: int
    rate: float

    @classmethod
    def of(cls, hit: HitRate) -> RateOut:
        return cls(met=hit.met, total=hit.total, rate=round(hit.rate, 4))


class SlaOut(BaseModel):
    by_type: dict[str, RateOut]
    by_scheduler: dict[str, RateOut]


class SchedulerOut(BaseModel):
    scheduler: str
    available: list[str]


class SchedulerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scheduler: str


@router.get("/api/sla")
async def sla(user: CurrentUser, services: ServicesDep) -> SlaOut:
    """Deadline hit rates of finished tasks (all users'), per task type and scheduler."""
    report = await services.tasks.sla_report()
    return SlaOut(
        by_type={k: RateOut.of(v) for k, v in report.by_type.items()},
        by_scheduler={k: RateOut.of(v) for k, v in report.by_scheduler.items()},
    )


@router.get("/api/admin/scheduler")
async def get_scheduler(user: AdminUser, services: ServicesDep) -> SchedulerOut:
    dispatcher = services.dispatcher
    return SchedulerOut(scheduler=dispatcher.scheduler, available=dispatcher.names())


@router.put("/api/admin/scheduler")
async def set_scheduler(body: SchedulerIn, user: AdminUser, services: ServicesDep) -> SchedulerOut:
    services.dispatcher.use(body.scheduler)
    return await get_scheduler(user, services)
