"""Worker-facing task transitions: an attempt starts, ends, is refused, lost or timed out.

Each method loads, calls the pure function of `domain.lifecycle`, and writes what it
returns with compare-and-set. A report for an older epoch, from a worker that does not
hold the attempt, or for a task already final is a no-op (None): delivery is
at-least-once, and resources are derived from task status so they free exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Iterable
from datetime import datetime, timedelta

from cloudai.domain import lifecycle as rules
from cloudai.domain.lifecycle import Transition
from cloudai.domain.task import HOLDING, Attempt, AttemptReport, Task, TaskStatus
from cloudai.master.transitions import Decide, TaskWriter
from cloudai.ports import Clock, Store

logger = logging.getLogger(__name__)

PAGE = 1000
FIRST_EPOCH = 1  # rules.place opens epoch task.epoch + 1, and a new task's epoch is 0


async def iter_tasks(
    store: Store, statuses: Collection[TaskStatus], *, worker_id: str | None = None
) -> AsyncIterator[Task]:
    """Every task in `statuses` (on `worker_id`, if given), oldest first, a page at a
    time: no silent limit."""
    after: tuple[datetime, str] | None = None
    while True:
        page = await store.list_tasks(
            statuses=statuses, worker_id=worker_id, limit=PAGE, after=after
        )
        for task in page:
            yield task
        if len(page) < PAGE:
            return
        after = (page[-1].created_at, page[-1].task_id)


def _time_out(epoch: int, at: datetime) -> Decide:
    """Time out the attempt seen expired, not a later one."""

    def decide(task: Task, attempt: Attempt | None) -> Transition | None:
        return rules.time_out(task, attempt, at=at) if task.epoch == epoch else None

    return decide


class Lifecycle:
    def __init__(self, store: Store, clock: Clock, writer: TaskWriter) -> None:
        self._store = store
        self._clock = clock
        self._writer = writer

    async def started(self, task_id: str, epoch: int, worker_id: str) -> Task | None:
        at = self._clock.now()
        return await self._writer.change(
            task_id, lambda t, a: rules.start(t, a, worker_id=worker_id, epoch=epoch, at=at)
        )

    async def progressed(
        self, task_id: str, epoch: int, worker_id: str, message: str
    ) -> Task | None:
        """A start-up step (pulling the image, creating the container): an event only;
        the task stays assigned. None once it runs, or for another attempt."""
        at = self._clock.now()

        def decide(task: Task, attempt: Attempt | None) -> Transition | None:
            return rules.progress(
                task, attempt, worker_id=worker_id, epoch=epoch, text=message, at=at
            )

        return await self._writer.change(task_id, decide)

    async def refused(self, task_id: str, epoch: int, worker_id: str, why: str) -> Task | None:
        """The worker could not take the attempt: back to the queue, nothing ran."""
        at = self._clock.now()
        return await self._writer.change(
            task_id,
            lambda t, a: rules.refuse(t, a, worker_id=worker_id, epoch=epoch, why=why, at=at),
        )

    async def finished(self, report: AttemptReport) -> Task | None:
        if report.no_files and report.epoch > FIRST_EPOCH:
            await self._forget_earlier_files(report)
        at = self._clock.now()
        task = await self._writer.change(
            report.task_id, lambda t, a: rules.finish(t, a, report, at=at)
        )
        if task is None:
            logger.info(
                "stale or repeated report ignored",
                extra={"task_id": report.task_id, "epoch": report.epoch},
            )
        return task

    async def _forget_earlier_files(self, report: AttemptReport) -> None:
        """A retry that shipped nothing: no files, as an (empty) upload would have left.
        File rows are per task, so an earlier attempt's would still be listed. Fenced
        like an upload (the task's current attempt, on this worker), and done before
        the status is written, so a waiter it wakes never reads the earlier files."""
        task = await self._store.get_task(report.task_id)
        if task is not None and (task.worker_id, task.epoch) == (report.worker_id, report.epoch):
            await self._store.replace_files(report.task_id, [])

    async def lost(self, task_id: str, epoch: int, worker_id: str) -> Task | None:
        """The worker vanished: the attempt ends as lost; the task waits again (a
        counted retry) or, past its retries, fails."""
        at = self._clock.now()
        return await self._writer.change(
            task_id, lambda t, a: rules.lose(t, a, worker_id=worker_id, epoch=epoch, at=at)
        )

    async def timed_out(self) -> list[Task]:
        """End every running attempt past its task's timeout; returns those tasks as
        they were (the caller tells their workers to stop)."""
        now = self._clock.now()
        expired = []
        async for task in iter_tasks(self._store, [TaskStatus.RUNNING]):
            if task.timeout_s is None or task.started_at is None:
                continue
            if task.started_at + timedelta(seconds=task.timeout_s) > now:
                continue
            if await self._writer.change(task.task_id, _time_out(task.epoch, now)) is not None:
                expired.append(task)
        return expired

    async def holding(self, worker_id: str | None = None) -> list[Task]:
        """Every task whose current attempt holds resources (on `worker_id`, if given)."""
        return [task async for task in iter_tasks(self._store, HOLDING, worker_id=worker_id)]

    async def reconcile(
        self, worker_id: str, running: list[tuple[str, int, bool]], *, grace_s: float
    ) -> list[tuple[str, int]]:
        """Compare what a worker says it runs (task, epoch, really started) with what
        the master assigned it. Returns the attempts the worker must kill; records
        starts the worker's own report may have missed, and ends as lost the attempts
        it no longer has (unless they changed within `grace_s`: an assignment may be
        in flight while the heartbeat was taken)."""
        held = {(t.task_id, t.epoch): t for t in await self.holding(worker_id)}
        kill: list[tuple[str, int]] = []
        for task_id, epoch, started in running:
            task = held.get((task_id, epoch))
            if task is None:
                kill.append((task_id, epoch))
            elif started and task.status is TaskStatus.ASSIGNED:
                await self.started(task_id, epoch, worker_id)
        settled = self._clock.now() - timedelta(seconds=grace_s)
        alive = {(task_id, epoch) for task_id, epoch, _ in running}
        # The same read serves: what changed since is either in `alive` (a start just
        # recorded) or newer than `settled` (an assignment made meanwhile).
        await self.end_missing(worker_id, alive, settled_before=settled, held=held.values())
        return kill

    async def end_missing(
        self,
        worker_id: str,
        alive: set[tuple[str, int]],
        *,
        settled_before: datetime | None = None,
        held: Iterable[Task] | None = None,
    ) -> int:
        """End as lost every attempt held by `worker_id` (`held`, if the caller just
        read them) that is not in `alive`; returns how many."""
        ended = 0
        for task in held if held is not None else await self.holding(worker_id):
            if (task.task_id, task.epoch) in alive:
                continue
            if settled_before is not None and task.updated_at > settled_before:
                continue
            ended += await self.lost(task.task_id, task.epoch, worker_id) is not None
        return ended
