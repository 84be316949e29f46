"""Worker-facing task transitions: an attempt starts, ends, or is lost.

Every report carries (task_id, epoch). A report for an older epoch, from a worker
that does not hold the attempt, or for a task already final is a no-op: delivery is
at-least-once, and resources are derived from task status so they free exactly once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from cloudai.domain.task import (
    HOLDING,
    AttemptReport,
    AttemptStatus,
    Task,
    TaskResult,
    TaskStatus,
)
from cloudai.master.transitions import Change, TaskWriter
from cloudai.ports import Clock, Store

logger = logging.getLogger(__name__)

_SCAN_LIMIT = 10_000

_ATTEMPT_OUTCOME = {
    TaskStatus.COMPLETED: AttemptStatus.SUCCEEDED,
    TaskStatus.FAILED: AttemptStatus.FAILED,
    TaskStatus.CANCELLED: AttemptStatus.CANCELLED,
}


def holds(task: Task, worker_id: str, epoch: int) -> bool:
    """True when this worker runs the task's current attempt."""
    return task.status.holds_resources and task.worker_id == worker_id and task.epoch == epoch


class Lifecycle:
    def __init__(self, store: Store, clock: Clock, writer: TaskWriter) -> None:
        self._store = store
        self._clock = clock
        self._writer = writer

    async def started(self, task_id: str, epoch: int, worker_id: str) -> Task | None:
        now = self._clock.now()

        def decide(task: Task) -> Change | None:
            if not holds(task, worker_id, epoch) or task.status is not TaskStatus.ASSIGNED:
                return None
            changes = {"status": AttemptStatus.RUNNING, "started_at": now}
            return Change(TaskStatus.RUNNING, "started", attempt_changes=changes)

        return await self._writer.change(task_id, decide)

    async def refused(self, task_id: str, epoch: int, worker_id: str, why: str) -> Task | None:
        """The worker could not take the attempt: back to the queue, nothing ran."""
        now = self._clock.now()

        def decide(task: Task) -> Change | None:
            if not holds(task, worker_id, epoch):
                return None
            changes = {"status": AttemptStatus.REFUSED, "finished_at": now, "reason": why}
            task.worker_id = None  # the old attempt's late uploads are refused from now on
            reason = f"worker {worker_id} refused: {why}"
            return Change(TaskStatus.QUEUED, reason, attempt_changes=changes)

        return await self._writer.change(task_id, decide)

    async def finished(self, report: AttemptReport) -> Task | None:
        if report.exit_code is not None:
            # It ran, even if the report overtook the start being recorded: keep the
            # history true (assigned -> running -> final). A no-op when already running.
            await self.started(report.task_id, report.epoch, report.worker_id)
        now = self._clock.now()

        def decide(task: Task) -> Change | None:
            if not holds(task, report.worker_id, report.epoch):
                return None
            changes = {
                "status": _ATTEMPT_OUTCOME[report.outcome],
                "finished_at": now,
                "exit_code": report.exit_code,
                "oom_killed": report.oom_killed,
                "reason": report.reason,
            }
            result = TaskResult(
                report.task_id, report.epoch, report.worker_id, report.outcome,
                report.exit_code, report.reason, report.log_size, now,
            )  # fmt: skip
            task.exit_code = report.exit_code
            return Change(report.outcome, report.reason, attempt_changes=changes, result=result)

        task = await self._writer.change(report.task_id, decide)
        if task is None:
            logger.info(
                "stale or repeated report ignored",
                extra={"task_id": report.task_id, "epoch": report.epoch},
            )
        return task

    async def lost(self, task_id: str, epoch: int, worker_id: str) -> Task | None:
        """The worker vanished: the attempt ends as lost and the task waits again."""
        now = self._clock.now()

        def decide(task: Task) -> Change | None:
            if not holds(task, worker_id, epoch):
                return None
            changes = {"status": AttemptStatus.LOST, "finished_at": now, "reason": "lost"}
            task.worker_id = None
            reason = f"worker {worker_id} lost; requeued"
            return Change(TaskStatus.QUEUED, reason, attempt_changes=changes)

        return await self._writer.change(task_id, decide)

    async def holding(self) -> list[Task]:
        """Every task whose current attempt holds resources on some worker."""
        return await self._store.list_tasks(statuses=HOLDING, limit=_SCAN_LIMIT)

    async def reconcile(
        self, worker_id: str, running: list[tuple[str, int]], *, grace_s: float
    ) -> list[tuple[str, int]]:
        """Compare what a worker says it runs with what the master assigned it.
        Returns the attempts the worker must kill; marks seen attempts as running, and
        ends as lost the attempts it no longer has (unless they changed within
        `grace_s`: an assignment may be in flight while the heartbeat was taken)."""
        kill: list[tuple[str, int]] = []
        for task_id, epoch in running:
            task = await self._store.get_task(task_id)
            if task is None or not holds(task, worker_id, epoch):
                kill.append((task_id, epoch))
            elif task.status is TaskStatus.ASSIGNED:
                await self.started(task_id, epoch, worker_id)
        settled = self._clock.now() - timedelta(seconds=grace_s)
        await self.end_missing(worker_id, set(running), settled_before=settled)
        return kill

    async def end_missing(
        self,
        worker_id: str,
        alive: set[tuple[str, int]],
        *,
        settled_before: datetime | None = None,
    ) -> int:
        """End as lost every attempt held by `worker_id` that is not in `alive`;
        returns how many. The tasks go back to the queue."""
        ended = 0
        for task in await self.holding():
            if task.worker_id != worker_id or (task.task_id, task.epoch) in alive:
                continue
            if settled_before is not None and task.updated_at > settled_before:
                continue
            ended += await self.lost(task.task_id, task.epoch, worker_id) is not None
        return ended
