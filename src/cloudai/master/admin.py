"""The admin's services, built together: accounts, worker registration and removal,
task deletion and retention, fix-resources and the internal-state dump; and the
master's maintenance loop (removals that drained, retention)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from cloudai.domain.errors import Forbidden
from cloudai.domain.users import Role, User
from cloudai.domain.workers import Worker
from cloudai.master.audit import ResourceAudit
from cloudai.master.bus import EventBus
from cloudai.master.cluster import ClusterService
from cloudai.master.dispatcher import Dispatcher
from cloudai.master.files import FileArea
from cloudai.master.gateway import WorkerGateway
from cloudai.master.lifecycle import Lifecycle
from cloudai.master.registration import Inviter, NoInviter, RegistrationService
from cloudai.master.registry import WorkerRegistry
from cloudai.master.retention import RetentionSweep, TaskPurge
from cloudai.master.tasks import TaskService
from cloudai.master.users_admin import UserAdmin
from cloudai.master.worker_removal import WorkerRemoval
from cloudai.ports import Clock, Store

logger = logging.getLogger(__name__)

QUEUE_SHOWN = 1000  # internal-state shows at most this much of the queue
RETENTION_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class AdminOptions:
    grace_s: float = 15.0  # how old a worker's report must be to judge a missing attempt
    registration_ttl_s: float = 600.0
    retention_s: float | None = None  # None: keep logs and outputs forever
    master_address: str = ""  # the gRPC address workers dial; the app sets it at start


@dataclass(frozen=True, slots=True)
class AdminServices:
    users: UserAdmin
    registrations: RegistrationService
    removal: WorkerRemoval
    purge: TaskPurge
    retention: RetentionSweep
    audit: ResourceAudit
    state: InternalState


@dataclass(frozen=True, slots=True)
class Parts:
    """What the admin services stand on (built in core.py)."""

    store: Store
    clock: Clock
    registry: WorkerRegistry
    lifecycle: Lifecycle
    gateway: WorkerGateway
    tasks: TaskService
    cluster: ClusterService
    dispatcher: Dispatcher
    bus: EventBus
    area: FileArea


def build_admin(parts: Parts, options: AdminOptions, inviter: Inviter | None) -> AdminServices:
    p = parts
    registrations = RegistrationService(
        p.store, p.clock, p.registry, inviter or NoInviter(),
        ttl_s=options.registration_ttl_s, master_address=options.master_address,
    )  # fmt: skip
    removal = WorkerRemoval(p.registry, p.lifecycle)
    retention = RetentionSweep(p.store, p.clock, p.area, options.retention_s)
    audit = ResourceAudit(p.clock, p.registry, p.lifecycle, p.gateway, grace_s=options.grace_s)
    state = InternalState(parts, registrations, removal, retention, audit)
    return AdminServices(
        UserAdmin(p.store), registrations, removal, TaskPurge(p.store, p.tasks, p.area),
        retention, audit, state,
    )  # fmt: skip


async def maintain(admin: AdminServices, clock: Clock, interval_s: float) -> None:
    """Forever: remove drained workers every `interval_s`, sweep retention every
    minute. A failed pass is logged and retried: maintenance never stops."""
    last_retention: float | None = None
    while True:
        await asyncio.sleep(interval_s)
        try:
            await admin.removal.sweep()
            now = clock.monotonic()
            if last_retention is None or now - last_retention >= RETENTION_EVERY_S:
                last_retention = now
                await admin.retention.sweep_once()
        except Exception:  # one failed pass must not end maintenance
            logger.exception("maintenance pass failed; retrying")


def _worker_doc(w: Worker) -> dict[str, Any]:
    return {
        "worker_id": w.worker_id, "address": w.address, "status": w.status.value,
        "eligibility": w.eligibility.value, "registered_at": w.registered_at.isoformat(),
        "last_heartbeat": w.last_heartbeat.isoformat(),
        "total": {"cpu": w.total.cpu, "memory": w.total.memory_gb,
                  "storage": w.total.storage_gb, "gpu": w.total.gpu},
        "usage": {"cpu": w.usage.cpu, "memory": w.usage.memory, "storage": w.usage.storage,
                  "gpu": w.usage.gpu},
    }  # fmt: skip


class InternalState:
    """The master's in-memory state as JSON-ready data (the seed's internal-state)."""

    def __init__(
        self,
        parts: Parts,
        registrations: RegistrationService,
        removal: WorkerRemoval,
        retention: RetentionSweep,
        audit: ResourceAudit,
    ) -> None:
        self._p = parts
        self._registrations = registrations
        self._removal = removal
        self._retention = retention
        self._audit = audit

    async def dump(self, admin: User) -> dict[str, Any]:
        if admin.role is not Role.ADMIN:
            raise Forbidden("admins only")
        p = self._p
        queue = await p.cluster.queue(admin, None, QUEUE_SHOWN)
        return {
            "at": p.clock.now().isoformat(),
            "registry": [_worker_doc(w) for w in p.registry.all()],
            "reported_running": {
                wid: {"at": r.at.isoformat(), "attempts": sorted([t, e] for t, e in r.running)}
                for wid, r in sorted(self._audit.reports().items())
            },
            "queue": {
                "total": queue.total,
                "entries": [
                    {
                        "task_id": e.task.task_id,
                        "user_id": e.task.user_id,
                        "priority": e.task.priority,
                        "position": e.position,
                        "reason": e.pending_reason,
                    }
                    for e in queue.entries
                ],
            },
            "scheduler": {
                "in_use": p.dispatcher.scheduler,
                "last_pass_at": p.dispatcher.last_pass_at,
                "interval_s": p.dispatcher.interval_s,
            },
            "bus": {"subscribers": p.bus.subscribers, "dropped_total": p.bus.dropped_total},
            "registrations": [
                {
                    "worker_id": r.worker_id,
                    "address": r.address,
                    "expires_at": r.expires_at.isoformat(),
                }
                for r in await self._registrations.pending()
            ],
            "removing": self._removal.removing,
            "retention": self._retention_doc(),
        }

    def _retention_doc(self) -> dict[str, Any]:
        until = self._retention.swept_until
        return {
            "keep_s": self._retention.keep_s,
            "swept_until": None if until is None else until[0].isoformat(),
        }
