"""The admin's routes: accounts (list, disable, make admin), worker pre-registration
and removal, fix-resources and the internal-state dump. Every one needs an admin: 401
without a credential, 403 for a user."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloudai.api.deps import ServicesDep
from cloudai.api.routes.scheduling import AdminUser
from cloudai.domain.users import Role, User
from cloudai.master.audit import drift_doc
from cloudai.master.worker_removal import Removal

router = APIRouter(tags=["admin"])

UserId = Annotated[str, Path(max_length=64)]
WorkerId = Annotated[str, Path(max_length=128)]


class AdminUserOut(BaseModel):
    id: str
    name: str
    email: str
    is_admin: bool
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> AdminUserOut:
        return cls(
            id=user.user_id, name=user.name, email=user.email,
            is_admin=user.role is Role.ADMIN, disabled=user.disabled, created_at=user.created_at,
        )  # fmt: skip


class UsersOut(BaseModel):
    users: list[AdminUserOut]


class UserPatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disabled: bool | None = None
    is_admin: bool | None = None


class WorkerIn(BaseModel):
    """`address` (ours) or `worker_ip` (the seed dashboard's key) is the worker's
    host:port; `worker_id` the id it must have (default: whichever answers)."""

    address: str | None = Field(default=None, max_length=300, examples=["10.0.0.7:50052"])
    worker_ip: str | None = Field(default=None, max_length=300, description="The seed's key.")
    worker_id: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _one_address(self) -> WorkerIn:
        if not (self.address or self.worker_ip):
            raise ValueError("address (host:port) is required")
        return self


class SeedWorkerOut(BaseModel):
    worker_id: str
    worker_ip: str
    is_active: bool = False


class PendingWorkerOut(BaseModel):
    worker_id: str
    address: str
    state: Literal["pending"] = "pending"
    # The seed dashboard's keys, alongside ours:
    success: bool = True
    message: str
    worker: SeedWorkerOut


class RemovedWorkerOut(BaseModel):
    worker_id: str
    state: Removal


class DriftOut(BaseModel):
    worker_id: str
    drift: dict[str, Any]
    fixed: bool


class FixResourcesOut(BaseModel):
    workers: list[DriftOut]


@router.get("/api/admin/users")
async def list_users(admin: AdminUser, services: ServicesDep) -> UsersOut:
    users = await services.admin.users.list_users(admin)
    return UsersOut(users=[AdminUserOut.of(u) for u in users])


@router.patch("/api/admin/users/{user_id}")
async def update_user(
    user_id: UserId, body: UserPatchIn, admin: AdminUser, services: ServicesDep
) -> AdminUserOut:
    """Disable (its sessions and API tokens are revoked at once) or enable a user, make
    or unmake an admin. 409: admins cannot disable or demote themselves."""
    user = await services.admin.users.update(
        admin, user_id, disabled=body.disabled, is_admin=body.is_admin
    )
    return AdminUserOut.of(user)


@router.post("/api/admin/fix-resources")
async def fix_resources(admin: AdminUser, services: ServicesDep) -> FixResourcesOut:
    """Compare the tasks holding resources on each worker with what it last reported
    running; end the attempts it no longer runs, stop those the master does not hold."""
    drifts = await services.admin.audit.fix(admin)
    return FixResourcesOut(
        workers=[DriftOut(worker_id=d.worker_id, drift=drift_doc(d), fixed=d.fixed) for d in drifts]
    )


@router.get("/api/admin/internal-state")
async def internal_state(admin: AdminUser, services: ServicesDep) -> dict[str, Any]:
    """The master's in-memory state: registry, last reports, queue, scheduler, event
    bus, pending registrations, removals, retention. For debugging: keys may change."""
    return await services.admin.state.dump(admin)


@router.post("/api/workers", status_code=201)
async def register_worker(
    body: WorkerIn, admin: AdminUser, services: ServicesDep
) -> PendingWorkerOut:
    """Pre-register a worker started with `--wait-for-master`: the master calls its
    MasterRegister with a one-time registration token, and the worker joins with it.
    503 when the worker cannot be reached; 409 when it is not waiting for a master."""
    address = body.address or body.worker_ip or ""
    pending = await services.admin.registrations.preregister(admin, address, body.worker_id)
    return PendingWorkerOut(
        worker_id=pending.worker_id, address=pending.address,
        message=f"worker {pending.worker_id} invited: it registers with a one-time token",
        worker=SeedWorkerOut(worker_id=pending.worker_id, worker_ip=pending.address),
    )  # fmt: skip


@router.delete(
    "/api/workers/{worker_id}",
    responses={202: {"model": RemovedWorkerOut, "description": "Draining; removed when idle"}},
)
async def unregister_worker(
    worker_id: WorkerId, admin: AdminUser, services: ServicesDep, response: Response
) -> RemovedWorkerOut:
    """Drain the worker, then remove it once no task holds resources on it: 200
    `removed` when nothing runs there, else 202 `draining`."""
    state = await services.admin.removal.unregister(admin, worker_id)
    if state is Removal.DRAINING:
        response.status_code = 202
    return RemovedWorkerOut(worker_id=worker_id, state=state)
