"""The scheduling index: the queued tasks (as planner views) and the tasks holding
resources, in memory.

The database stays the source of truth. The index is rebuilt from it at start and kept
current by the task writer, which tells it of every task it adds and every transition
it commits, so a scheduling pass reads no rows. Another master on the same database
writes behind this one's back: the plan applier's claims re-check everything in the
database, and a refused claim marks the index stale, so the next pass rebuilds it (as
does a timer, `resync_s`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Hashable
from typing import TypeVar

from cloudai.domain.resources import Resources
from cloudai.domain.task import HOLDING, Attempt, Task, TaskStatus
from cloudai.master.holding import Holding
from cloudai.master.lifecycle import iter_tasks
from cloudai.ports import Store
from cloudai.scheduling.snapshot import QueuedTaskView, RunningView

# What a pass leaves out: requests no worker could ever fit, and pinned-to workers that
# are not registered.
_LeftOut = tuple[frozenset[Resources], frozenset[str]]
K = TypeVar("K", bound=Hashable)


def _discount(counts: Counter[K], key: K) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


def queued_view(task: Task) -> QueuedTaskView:
    return QueuedTaskView(
        task_id=task.task_id,
        user_id=task.user_id,
        request=task.request,
        submitted_at=task.created_at.timestamp(),
        priority=task.priority,
        task_type=task.task_type,
        k_value=task.k_value,
        target_worker_id=task.target_worker_id,
    )


class TaskIndex:
    def __init__(self) -> None:
        self._queued: dict[str, QueuedTaskView] = {}
        self._queued_tasks: dict[str, Task] = {}  # the same tasks, whole, for claims
        self._holding = Holding()
        # The current attempt of a holding task, as this master last wrote it (none for
        # what a rebuild read: those come from the store when asked for).
        self._attempts: dict[str, Attempt] = {}
        self._ordered: tuple[QueuedTaskView, ...] | None = ()  # None: re-sort on read
        self._requests: Counter[Resources] = Counter()  # of queued tasks not pinned
        self._targets: Counter[str] = Counter()  # the workers queued tasks are pinned to
        # The last split of the queue: ((requests, targets) left out, kept views, left-out ids).
        self._without: tuple[_LeftOut, tuple[QueuedTaskView, ...], tuple[str, ...]] | None = None
        self._stale = True  # nothing loaded yet
        # While a rebuild reads the database, what the writer records meanwhile is kept
        # and replayed over what was read (the read may predate those commits).
        self._during_rebuild: list[tuple[Task, Attempt | None]] | None = None
        self._rebuilding = asyncio.Lock()  # one rebuild at a time (a pass, an agent's fetch)

    @property
    def stale(self) -> bool:
        return self._stale

    def mark_stale(self) -> None:
        """Something was written behind this index's back: rebuild before the next read."""
        self._stale = True

    async def rebuild(self, store: Store) -> None:
        async with self._rebuilding:
            await self._load(store)

    async def _load(self, store: Store) -> None:
        queued: dict[str, QueuedTaskView] = {}
        queued_tasks: dict[str, Task] = {}
        holding: list[Task] = []
        self._during_rebuild = []
        try:
            async for task in iter_tasks(store, [TaskStatus.QUEUED, *HOLDING]):
                if task.status is TaskStatus.QUEUED:
                    queued[task.task_id] = queued_view(task)
                    queued_tasks[task.task_id] = task
                else:
                    holding.append(task)
        finally:
            replay, self._during_rebuild = self._during_rebuild, None
        self._queued, self._queued_tasks, self._holding = queued, queued_tasks, Holding(holding)
        self._attempts = {}
        self._requests = Counter(v.request for v in queued.values() if not v.target_worker_id)
        self._targets = Counter(v.target_worker_id for v in queued.values() if v.target_worker_id)
        self._changed()
        for task, attempt in replay:
            self.record(task, attempt)
        self._stale = False

    def record(self, task: Task, attempt: Attempt | None = None) -> None:
        """`task` as just written (added, or after a committed transition), with the
        attempt the transition wrote, if it wrote one."""
        if self._during_rebuild is not None:
            self._during_rebuild.append((task, attempt))
        task_id = task.task_id
        self._unqueue(task_id)
        self._note_attempt(task, attempt)
        if task.status is TaskStatus.QUEUED:
            self._holding.drop(task_id)
            self._queued_tasks[task_id] = task
            view = self._queued[task_id] = queued_view(task)
            self._changed()
            if view.target_worker_id:
                self._targets[view.target_worker_id] += 1
            else:
                self._requests[view.request] += 1
            return
        if task.status.holds_resources:
            self._holding.put(task)
        else:
            self._holding.drop(task_id)

    def _note_attempt(self, task: Task, attempt: Attempt | None) -> None:
        kept = self._attempts.get(task.task_id)
        if attempt is not None and attempt.epoch == task.epoch:
            kept = attempt
        if task.status.holds_resources and kept is not None and kept.epoch == task.epoch:
            self._attempts[task.task_id] = kept
        else:
            self._attempts.pop(task.task_id, None)

    def _unqueue(self, task_id: str) -> None:
        view = self._queued.pop(task_id, None)
        if view is None:
            return
        del self._queued_tasks[task_id]
        self._changed()
        if view.target_worker_id:
            _discount(self._targets, view.target_worker_id)
        else:
            _discount(self._requests, view.request)

    def _changed(self) -> None:
        self._ordered = None
        self._without = None

    def queue(
        self, without: frozenset[Resources] = frozenset(), absent: frozenset[str] = frozenset()
    ) -> tuple[QueuedTaskView, ...]:
        """Every queued task, oldest first (submit time, then id), leaving out those
        not pinned to a worker whose request is in `without`, and those pinned to a
        worker in `absent`."""
        return self._split((without, absent))[0]

    def left_out(
        self, without: frozenset[Resources], absent: frozenset[str] = frozenset()
    ) -> tuple[str, ...]:
        """The ids `queue(without, absent)` leaves out, oldest first."""
        return self._split((without, absent))[1]

    def _split(self, out: _LeftOut) -> tuple[tuple[QueuedTaskView, ...], tuple[str, ...]]:
        if self._ordered is None:
            views = sorted(self._queued.values(), key=lambda v: (v.submitted_at, v.task_id))
            self._ordered = tuple(views)
        without, absent = out
        if not without and not absent:
            return self._ordered, ()
        if self._without is None or self._without[0] != out:
            kept, left = [], []
            for view in self._ordered:
                target = view.target_worker_id
                if (target in absent) if target else (view.request in without):
                    left.append(view.task_id)
                else:
                    kept.append(view)
            self._without = (out, tuple(kept), tuple(left))
        return self._without[1], self._without[2]

    def requests(self) -> list[Resources]:
        """The distinct requests of the queued tasks not pinned to a worker."""
        return list(self._requests)

    def targets(self) -> list[str]:
        """The distinct workers queued tasks are pinned to."""
        return list(self._targets)

    def target_of(self, task_id: str) -> str | None:
        """The worker a queued task is pinned to (None: not pinned, or not queued here)."""
        view = self._queued.get(task_id)
        return view.target_worker_id if view is not None else None

    def request_of(self, task_id: str) -> Resources | None:
        """A queued task's request (None when it is not queued here)."""
        view = self._queued.get(task_id)
        return view.request if view is not None and not view.target_worker_id else None

    def queued_task(self, task_id: str) -> Task | None:
        """The queued task as last written here (None when it is not queued here)."""
        return self._queued_tasks.get(task_id)

    def current(self, task_id: str) -> tuple[Task, Attempt] | None:
        """A holding task and its current attempt as this master last wrote them, or
        None when it did not (the store knows; a compare-and-set catches a stale one)."""
        task, attempt = self._holding.get(task_id), self._attempts.get(task_id)
        if task is None or attempt is None or attempt.epoch != task.epoch:
            return None
        return task, attempt

    def holding(self) -> list[Task]:
        """Every task whose attempt holds resources."""
        return self._holding.tasks()

    def running_views(self) -> tuple[RunningView, ...]:
        """The planner's view of every holding task on a worker."""
        return self._holding.views()

    def used(self, worker_id: str) -> Resources:
        """What the tasks holding a place on `worker_id` request together."""
        return self._holding.used(worker_id)

    def started(self) -> list[Task]:
        """The running tasks that have a start time."""
        return self._holding.started()

    def __len__(self) -> int:
        return len(self._queued)
