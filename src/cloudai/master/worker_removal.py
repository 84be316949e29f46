"""Removing a worker (the seed's `unregister`, DELETE /api/workers/{id}): it is drained
at once and forgotten as soon as no task holds resources on it.

Removal requests are kept in memory: after a master restart a worker still draining
stays (drained) until the admin asks again. Reopening it cancels the removal. A removed
worker that heartbeats again is told it is not registered: a worker with the join token
joins again (stop it first), one started with --wait-for-master waits to be registered.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from cloudai.domain.errors import Forbidden, NotFound
from cloudai.domain.users import Role, User
from cloudai.domain.workers import Eligibility
from cloudai.master.lifecycle import Lifecycle
from cloudai.master.registry import WorkerRegistry

logger = logging.getLogger(__name__)


class Removal(StrEnum):
    DRAINING = "draining"
    REMOVED = "removed"


class WorkerRemoval:
    def __init__(self, registry: WorkerRegistry, lifecycle: Lifecycle) -> None:
        self._registry = registry
        self._lifecycle = lifecycle
        self._removing: set[str] = set()

    @property
    def removing(self) -> list[str]:
        return sorted(self._removing)

    async def unregister(self, admin: User, worker_id: str) -> Removal:
        if admin.role is not Role.ADMIN:
            raise Forbidden("admins only")
        if self._registry.get(worker_id) is None:
            raise NotFound(f"worker {worker_id} not found")
        # Drained first: no placement can start on it while it is checked and removed.
        await self._registry.set_eligibility(worker_id, Eligibility.DRAINING)
        if await self._remove_if_idle(worker_id):
            return Removal.REMOVED
        self._removing.add(worker_id)
        logger.info("worker draining for removal", extra={"worker_id": worker_id})
        return Removal.DRAINING

    async def sweep(self) -> list[str]:
        """Remove the draining workers that hold nothing any more; their ids."""
        removed = []
        for worker_id in sorted(self._removing):
            worker = self._registry.get(worker_id)
            if worker is None or worker.eligibility is not Eligibility.DRAINING:
                self._removing.discard(worker_id)  # gone, or reopened: removal cancelled
            elif await self._remove_if_idle(worker_id):
                removed.append(worker_id)
        return removed

    async def _remove_if_idle(self, worker_id: str) -> bool:
        if await self._lifecycle.holding(worker_id):
            return False
        await self._registry.remove(worker_id)
        self._removing.discard(worker_id)
        # A placement decided before the drain may have landed meanwhile: it is lost.
        await self._lifecycle.end_missing(worker_id, set())
        return True
