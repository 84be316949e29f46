"""fix-resources: what the master holds on each worker against what the worker last
reported running, and the repair of what is safe to repair.

A worker's free capacity is derived from the tasks holding resources on it, so there
is no allocation counter to drift (the seed's fix-resources rebuilt one). What can
drift is the set of attempts: the master holds one the worker no longer runs
(`missing_on_worker`: ended as lost, which requeues or fails it like a lost worker's),
or the worker runs one the master does not hold there (`unknown_to_master`: the worker
is told to stop it). An attempt changed after the worker's report was taken (within
the reconcile grace) may be in flight, and is only reported (`in_flight`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cloudai.domain.errors import Forbidden, Unavailable
from cloudai.domain.resources import Resources
from cloudai.domain.task import Task
from cloudai.domain.users import Role, User
from cloudai.domain.workers import Worker, WorkerStatus
from cloudai.master.gateway import WorkerGateway
from cloudai.master.lifecycle import Lifecycle
from cloudai.master.registry import WorkerRegistry
from cloudai.ports import Clock

logger = logging.getLogger(__name__)

Attempts = frozenset[tuple[str, int]]


@dataclass(frozen=True, slots=True)
class Report:
    at: datetime
    running: Attempts


@dataclass(slots=True)
class WorkerDrift:
    worker_id: str
    allocated: Resources  # what the tasks holding resources on it ask
    reported_at: datetime | None
    missing_on_worker: list[str] = field(default_factory=list)
    unknown_to_master: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    fixed: bool = False  # drift was found and all of it repaired

    @property
    def drifted(self) -> bool:
        return bool(self.missing_on_worker or self.unknown_to_master)


class ResourceAudit:
    def __init__(
        self,
        clock: Clock,
        registry: WorkerRegistry,
        lifecycle: Lifecycle,
        gateway: WorkerGateway,
        *,
        grace_s: float,
    ) -> None:
        self._clock = clock
        self._registry = registry
        self._lifecycle = lifecycle
        self._gateway = gateway
        self._grace = timedelta(seconds=grace_s)
        self._reports: dict[str, Report] = {}

    def reported(self, worker_id: str, running: list[tuple[str, int, bool]]) -> None:
        """A heartbeat's list of attempts (task id, epoch, started), as received."""
        attempts = frozenset((task_id, epoch) for task_id, epoch, _ in running)
        self._reports[worker_id] = Report(self._clock.now(), attempts)

    def reports(self) -> dict[str, Report]:
        return dict(self._reports)

    async def fix(self, admin: User) -> list[WorkerDrift]:
        if admin.role is not Role.ADMIN:
            raise Forbidden("admins only")
        return [await self._fix(worker) for worker in self._registry.all()]

    async def _fix(self, worker: Worker) -> WorkerDrift:
        held = await self._lifecycle.holding(worker.worker_id)
        report = self._reports.get(worker.worker_id)
        drift = WorkerDrift(
            worker.worker_id,
            sum((t.request for t in held), Resources()),
            None if report is None else report.at,
        )
        if report is None or worker.status is not WorkerStatus.ACTIVE:
            return drift  # nothing recent to compare with: nothing is judged
        repaired = await self._end_missing(worker, held, report, drift)
        repaired &= await self._stop_unknown(worker, held, report, drift)
        drift.fixed = drift.drifted and repaired
        return drift

    async def _end_missing(
        self, worker: Worker, held: list[Task], report: Report, drift: WorkerDrift
    ) -> bool:
        settled = report.at - self._grace
        for task in held:
            if (task.task_id, task.epoch) in report.running:
                continue
            if task.updated_at > settled:
                drift.in_flight.append(task.task_id)
                continue
            drift.missing_on_worker.append(task.task_id)
            await self._lifecycle.lost(task.task_id, task.epoch, worker.worker_id)
        return True

    async def _stop_unknown(
        self, worker: Worker, held: list[Task], report: Report, drift: WorkerDrift
    ) -> bool:
        mine = {(t.task_id, t.epoch) for t in held}
        repaired = True
        for task_id, epoch in sorted(report.running - mine):
            drift.unknown_to_master.append(task_id)
            try:
                await self._gateway.cancel(worker, task_id, epoch)
            except Unavailable:
                logger.warning("cannot stop an unknown attempt", extra={"task_id": task_id})
                repaired = False  # the next heartbeat's reconcile tells it again
        return repaired


def drift_doc(drift: WorkerDrift) -> dict[str, Any]:
    a = drift.allocated
    return {
        "allocated": {"cpu": a.cpu, "memory": a.memory_gb, "storage": a.storage_gb, "gpu": a.gpu},
        "reported_at": None if drift.reported_at is None else drift.reported_at.isoformat(),
        "missing_on_worker": drift.missing_on_worker,
        "unknown_to_master": drift.unknown_to_master,
        "in_flight": drift.in_flight,
    }
