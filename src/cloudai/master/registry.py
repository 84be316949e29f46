"""The worker registry: who is in the cluster, what they offer, whether they are alive.

It owns the in-memory worker table (a cache of the store, rebuilt on start) and is
the only writer of worker rows. A heartbeat that changes nothing but the time and the
usage is written through at most every `PERSIST_HEARTBEAT_S` per worker: liveness is
judged in memory, and a restarted master trusts no stored heartbeat anyway (`load`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from cloudai.domain.errors import NotFound
from cloudai.domain.resources import Resources
from cloudai.domain.workers import Eligibility, Usage, Worker, WorkerStatus
from cloudai.ports import Clock, Store

logger = logging.getLogger(__name__)

PERSIST_HEARTBEAT_S = 60.0

HeartbeatObserver = Callable[[str, datetime, Usage], None]
WorkerObserver = Callable[[Worker], None]  # gets a copy


class WorkerRegistry:
    def __init__(
        self, store: Store, clock: Clock, *, suspect_after_s: float, lost_after_s: float
    ) -> None:
        self._store = store
        self._clock = clock
        self._suspect_after_s = suspect_after_s
        self._lost_after_s = lost_after_s
        self._workers: dict[str, Worker] = {}
        # What `all` and `get` hand out: one copy per worker, made when first asked
        # after the worker changed (passes ask for every worker, each submit's pass).
        # Callers never mutate them.
        self._copies: dict[str, Worker] = {}
        self._sorted_ids: list[str] | None = None
        self._capacities: frozenset[Resources] | None = None  # see `capacities`
        self._written_at: dict[str, datetime] = {}  # when each worker's row was last written
        self._heartbeat_observers: list[HeartbeatObserver] = []
        self._change_observers: list[WorkerObserver] = []

    async def load(self) -> None:
        """Rebuild the cache from the store. No worker is trusted as active until it
        heartbeats again (it may be long gone), and liveness restarts from now: a
        master restart gives every worker a full grace period before anything is
        declared lost."""
        now = self._clock.now()
        for worker in await self._store.list_workers():
            if worker.status is not WorkerStatus.LOST:
                worker.last_heartbeat = now
                worker.status = WorkerStatus.SUSPECT
            self._workers[worker.worker_id] = worker
        self._copies.clear()
        self._sorted_ids = None
        self._capacities = None

    async def register(self, worker_id: str, address: str, total: Resources) -> Worker:
        now = self._clock.now()
        known = self._workers.get(worker_id)
        worker = Worker(
            worker_id=worker_id,
            address=address,
            total=total,
            status=WorkerStatus.ACTIVE,
            registered_at=known.registered_at if known else now,
            last_heartbeat=now,
            eligibility=known.eligibility if known else Eligibility.OPEN,
        )
        self._workers[worker_id] = worker
        self._touched(worker_id, joined=known is None)
        await self._store.upsert_worker(worker)
        logger.info("worker registered", extra={"worker_id": worker_id, "address": address})
        self._changed(worker)
        return replace(worker)

    async def heartbeat(self, worker_id: str, usage: Usage) -> Worker:
        worker = self._workers.get(worker_id)
        if worker is None:
            raise NotFound(f"worker {worker_id} is not registered")
        now = worker.last_heartbeat = self._clock.now()
        worker.usage = usage
        back = worker.status is not WorkerStatus.ACTIVE
        if back:
            logger.info("worker back", extra={"worker_id": worker_id})
        worker.status = WorkerStatus.ACTIVE
        self._touched(worker_id)
        written = self._written_at.get(worker_id)
        if back or written is None or (now - written).total_seconds() >= PERSIST_HEARTBEAT_S:
            await self._store.upsert_worker(worker)
            self._written_at[worker_id] = now
        if back:
            self._changed(worker)
        for observer in self._heartbeat_observers:
            observer(worker_id, worker.last_heartbeat, usage)
        return replace(worker)

    def observe_heartbeats(self, observer: HeartbeatObserver) -> None:
        """Call `observer(worker_id, at, usage)` after every accepted heartbeat."""
        self._heartbeat_observers.append(observer)

    def observe_changes(self, observer: WorkerObserver) -> None:
        """Call `observer(worker)` after a worker registers, or its liveness or
        eligibility changes."""
        self._change_observers.append(observer)

    def _changed(self, worker: Worker) -> None:
        self._capacities = None  # every change of a worker's status or total comes here
        for observer in self._change_observers:
            observer(replace(worker))

    async def check_liveness(self) -> list[str]:
        """Mark late workers suspect, silent ones lost. Returns the newly lost ids."""
        now = self._clock.now()
        newly_lost = []
        # A copy: a worker may register (or be removed) while a store write below awaits.
        for worker in list(self._workers.values()):
            silent = (now - worker.last_heartbeat).total_seconds()
            status = worker.status
            if silent >= self._lost_after_s:
                status = WorkerStatus.LOST
            elif silent >= self._suspect_after_s:
                status = WorkerStatus.SUSPECT
            if status is worker.status or worker.status is WorkerStatus.LOST:
                continue
            worker.status = status
            self._touched(worker.worker_id)
            await self._store.upsert_worker(worker)
            logger.warning("worker %s", status, extra={"worker_id": worker.worker_id})
            self._changed(worker)
            if status is WorkerStatus.LOST:
                newly_lost.append(worker.worker_id)
        return newly_lost

    async def set_eligibility(self, worker_id: str, eligibility: Eligibility) -> Worker:
        """Open a worker to new work, or drain or cordon it (it keeps what it runs)."""
        worker = self._workers.get(worker_id)
        if worker is None:
            raise NotFound(f"worker {worker_id} is not registered")
        worker.eligibility = eligibility
        self._touched(worker_id)
        await self._store.upsert_worker(worker)
        logger.info("worker %s", eligibility.value, extra={"worker_id": worker_id})
        self._changed(worker)
        return replace(worker)

    async def remove(self, worker_id: str) -> bool:
        """Forget the worker (its row too); False when it was not registered. Its
        next heartbeat is answered NotFound: it must register again."""
        if self._workers.pop(worker_id, None) is None:
            return False
        self._touched(worker_id, joined=True)
        await self._store.delete_worker(worker_id)
        logger.info("worker removed", extra={"worker_id": worker_id})
        return True

    def mark_suspect(self, worker_id: str, why: str) -> None:
        """The worker could not be reached: place nothing more on it until it
        heartbeats again (the store learns at the next liveness change)."""
        worker = self._workers.get(worker_id)
        if worker is not None and worker.status is WorkerStatus.ACTIVE:
            worker.status = WorkerStatus.SUSPECT
            self._touched(worker_id)
            logger.warning("worker unreachable: %s", why, extra={"worker_id": worker_id})
            self._changed(worker)

    def _touched(self, worker_id: str, *, joined: bool = False) -> None:
        """The worker changed (or `joined`/left the table): its copy is stale."""
        self._copies.pop(worker_id, None)
        if joined:
            self._sorted_ids = None
            self._capacities = None

    def _copy(self, worker_id: str) -> Worker:
        copy = self._copies.get(worker_id)
        if copy is None:
            copy = self._copies[worker_id] = replace(self._workers[worker_id])
        return copy

    def get(self, worker_id: str) -> Worker | None:
        return self._copy(worker_id) if worker_id in self._workers else None

    def all(self) -> list[Worker]:
        if self._sorted_ids is None:
            self._sorted_ids = sorted(self._workers)
        return [self._copy(worker_id) for worker_id in self._sorted_ids]

    def capacities(self) -> frozenset[Resources]:
        """The distinct totals of the workers not lost: a submit asks whether any of
        them could ever fit its request (a few shapes, however many workers)."""
        if self._capacities is None:
            self._capacities = frozenset(
                w.total for w in self._workers.values() if w.status is not WorkerStatus.LOST
            )
        return self._capacities

    def active(self) -> list[Worker]:
        return [w for w in self.all() if w.status is WorkerStatus.ACTIVE]
