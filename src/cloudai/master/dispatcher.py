"""The dispatcher: queue -> pure planner -> compare-and-set claim -> AssignTask.

One loop owns placement. It wakes on submit, on finish and on a timer; it never holds
a lock across network I/O, and a placement that loses its compare-and-set (the task
was cancelled meanwhile) is simply dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from cloudai.domain.errors import CloudAIError
from cloudai.domain.resources import Resources
from cloudai.domain.task import Attempt, Task, TaskStatus
from cloudai.domain.workers import Worker
from cloudai.master.gateway import WorkerGateway
from cloudai.master.lifecycle import Lifecycle
from cloudai.master.registry import WorkerRegistry
from cloudai.master.transitions import Change, TaskWriter
from cloudai.ports import Clock, Store
from cloudai.scheduling.planner import Placement, QueuedTask, WorkerSlot, plan_round_robin

logger = logging.getLogger(__name__)

_QUEUE_SCAN_LIMIT = 10_000


class Dispatcher:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        registry: WorkerRegistry,
        gateway: WorkerGateway,
        lifecycle: Lifecycle,
        writer: TaskWriter,
        *,
        interval_s: float,
    ) -> None:
        self._writer = writer
        self._store = store
        self._clock = clock
        self._registry = registry
        self._gateway = gateway
        self._lifecycle = lifecycle
        self._interval_s = interval_s
        self._wakeup = asyncio.Event()
        self._cursor = 0
        self._pending: dict[str, str] = {}

    def wake(self) -> None:
        self._wakeup.set()

    def pending_reason(self, task_id: str) -> str | None:
        return self._pending.get(task_id)

    async def run(self) -> None:
        while True:
            try:
                await self.schedule_once()
            except Exception:  # a failed pass (say, a database hiccup) must not stop scheduling
                logger.exception("scheduling pass failed; retrying on the next tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._interval_s)
            self._wakeup.clear()

    async def schedule_once(self) -> list[Placement]:
        """One pass: plan against a fresh snapshot, then claim and hand over each placement."""
        queued = await self._store.list_tasks(statuses=[TaskStatus.QUEUED], limit=_QUEUE_SCAN_LIMIT)
        workers = self._registry.active()
        slots = await self._slots(workers)
        plan = plan_round_robin(
            slots, [QueuedTask(t.task_id, t.request) for t in queued], self._cursor
        )
        self._cursor = plan.next_cursor
        self._pending = plan.pending
        by_id = {w.worker_id: w for w in workers}
        for placement in plan.placements:
            await self._place(placement, by_id[placement.worker_id])
        return plan.placements

    async def _slots(self, workers: list[Worker]) -> list[WorkerSlot]:
        """Free capacity is derived from the tasks that hold resources, so a release
        can never happen twice."""
        used: dict[str, Resources] = defaultdict(Resources)
        for task in await self._lifecycle.holding():
            if task.worker_id:
                used[task.worker_id] = used[task.worker_id] + task.request
        return [
            WorkerSlot(w.worker_id, w.total, (w.total - used[w.worker_id]).clamped())
            for w in workers
        ]

    async def _place(self, placement: Placement, worker: Worker) -> None:
        now = self._clock.now()

        def decide(task: Task) -> Change | None:
            if task.status is not TaskStatus.QUEUED:
                return None  # cancelled while we planned
            task.worker_id = worker.worker_id
            task.exit_code = None
            attempt = Attempt(task.task_id, task.epoch + 1, worker.worker_id, assigned_at=now)
            reason = f"placed on {worker.worker_id}"
            return Change(TaskStatus.ASSIGNED, reason, attempt=attempt, new_epoch=True)

        task = await self._writer.change(placement.task_id, decide)
        if task is None:
            return
        try:
            await self._gateway.assign(worker, task)
        except CloudAIError as exc:
            logger.warning("assignment failed: %s", exc, extra={"task_id": task.task_id})
            await self._lifecycle.refused(task.task_id, task.epoch, worker.worker_id, str(exc))
            return
        await self._lifecycle.started(task.task_id, task.epoch, worker.worker_id)

    async def worker_lost(self, worker_id: str) -> None:
        """End the lost worker's attempts; their tasks wait for another worker."""
        await self._lifecycle.end_missing(worker_id, set())
        self.wake()

    async def worker_registered(self, worker_id: str, running: list[tuple[str, int]]) -> None:
        """A (re)registering worker lists what it still runs; the rest of its attempts
        did not survive and go back to the queue."""
        await self._lifecycle.end_missing(worker_id, set(running))
        self.wake()
