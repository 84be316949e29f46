"""Builds the scheduling `Snapshot`: workers with their free capacity, the whole queue,
the running attempts, users' usage and learned durations, as of one instant.

The queue and the running attempts come from the in-memory `TaskIndex`, not the
database: a pass reads no rows (the index is rebuilt when stale, and every `resync_s`).
Tasks that no worker could ever fit are left out of the queue (scheduling/feasibility.py)."""

from __future__ import annotations

from datetime import datetime

from cloudai.domain import sla
from cloudai.domain.resources import Resources
from cloudai.domain.workers import Eligibility, Worker, WorkerStatus
from cloudai.master.accounting import Accounting
from cloudai.master.registry import WorkerRegistry
from cloudai.master.task_index import TaskIndex
from cloudai.ports import Clock, Store
from cloudai.scheduling.feasibility import never_fitting
from cloudai.scheduling.snapshot import Snapshot, WorkerView

RESYNC_S = 60.0  # the index is re-read from the database at least this often
_STALE_VIEWS = 64  # views of workers gone kept at most, before they are dropped


def schedulable(worker: Worker) -> bool:
    """Takes new work: heard from since the master started, and open to work."""
    return worker.status is WorkerStatus.ACTIVE and worker.eligibility is Eligibility.OPEN


class SnapshotBuilder:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        registry: WorkerRegistry,
        index: TaskIndex,
        accounting: Accounting,
        *,
        max_running_per_user: int | None = None,
        resync_s: float = RESYNC_S,
    ) -> None:
        self._store = store
        self._clock = clock
        self._registry = registry
        self._index = index
        self._accounting = accounting
        self._max_running_per_user = max_running_per_user
        self._resync_s = resync_s
        self._synced_at: datetime | None = None
        # Each worker's last view, with the copy and the held sum it was made from.
        self._views: dict[str, tuple[Worker, Resources, WorkerView]] = {}

    def invalidate(self) -> None:
        """A claim was refused: the index may be behind the database; re-read it."""
        self._index.mark_stale()

    async def build(self, cursor: int = 0) -> Snapshot:
        now = self._clock.now()
        if (
            self._index.stale
            or self._synced_at is None
            or (now - self._synced_at).total_seconds() >= self._resync_s
        ):
            await self._index.rebuild(self._store)
            self._synced_at = now
        workers = tuple(self._workers())
        never_fit = never_fitting(self._index.requests(), workers)
        without = frozenset(never_fit)
        # Pinned to a worker that is not there: no pass could place them (with no worker
        # at all the pass itself says so, as for never-fitting requests).
        registered = {w.worker_id for w in workers}
        absent = frozenset(t for t in self._index.targets() if workers and t not in registered)
        return Snapshot(
            now=now.timestamp(),
            workers=workers,
            queue=self._index.queue(without, absent),
            never_fit=never_fit,
            absent_targets=absent,
            left_out=self._index.left_out(without, absent),
            running=self._index.running_views(),
            usage=self._usage(now),
            tau=self._accounting.tau(),
            cursor=cursor,
            max_running_per_user=self._max_running_per_user,
        )

    def _workers(self) -> list[WorkerView]:
        """Every worker not lost; free capacity is derived from the tasks that hold
        resources, so a release can never happen twice. A worker's view is made again
        only when the worker or what it holds changed (the registry hands out a new
        copy on every change)."""
        views = []
        for worker in self._registry.all():
            if worker.status is WorkerStatus.LOST:
                continue
            used = self._index.used(worker.worker_id)
            kept = self._views.get(worker.worker_id)
            if kept is None or kept[0] is not worker or kept[1] != used:
                kept = self._views[worker.worker_id] = (worker, used, _view(worker, used))
            views.append(kept[2])
        if len(self._views) > len(views) + _STALE_VIEWS:  # workers removed or lost
            current = {v.worker_id for v in views}
            self._views = {k: v for k, v in self._views.items() if k in current}
        return views

    def _usage(self, now: datetime) -> dict[str, float]:
        """Finished runs (decayed) plus what running attempts have used so far."""
        usage = self._accounting.usage()
        for task in self._index.started():
            assert task.started_at is not None  # `started` keeps only those
            seconds = (now - task.started_at).total_seconds()
            usage[task.user_id] = sla.charge(usage.get(task.user_id, 0.0), task.request, seconds)
        return usage


def _view(worker: Worker, used: Resources) -> WorkerView:
    return WorkerView(
        worker_id=worker.worker_id,
        total=worker.total,
        free=(worker.total - used).clamped(),
        schedulable=schedulable(worker),
        cpu_load=worker.usage.cpu / 100,
        memory_load=worker.usage.memory / 100,
        gpu_load=worker.usage.gpu / 100,
    )
