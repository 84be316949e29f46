"""The tasks whose attempts hold resources, with what a scheduling pass reads of them
kept current as they change: the planner's view of each, what each worker's tasks hold
together, and which have started.

A pass used to derive all of that from every holding task, so with a few hundred tasks
placed and not yet finished it cost more than the placing itself; now a change costs
one update here, and a pass copies what is kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from cloudai.domain.resources import Resources
from cloudai.domain.task import Task, TaskStatus
from cloudai.scheduling.snapshot import RunningView

_NOTHING = Resources()


def running_view(task: Task) -> RunningView:
    started = task.started_at or task.updated_at
    return RunningView(
        task_id=task.task_id,
        worker_id=task.worker_id or "",
        user_id=task.user_id,
        request=task.request,
        started_at=started.timestamp(),
        task_type=task.task_type,
    )


class Holding:
    def __init__(self, tasks: Iterable[Task] = ()) -> None:
        self._tasks: dict[str, Task] = {}
        self._views: dict[str, RunningView] = {}  # of those on a worker
        self._started: dict[str, Task] = {}  # running, with a start time
        # What each worker's tasks request together. Sums of fractional cores drift by
        # ~1e-15 a change (within `Resources`' epsilon); a worker left with no task
        # starts again from exactly nothing.
        self._used: dict[str, Resources] = {}
        self._count: Counter[str] = Counter()
        for task in tasks:
            self.put(task)

    def put(self, task: Task) -> None:
        """`task` holds resources as it is now (it replaces what was kept of it)."""
        self.drop(task.task_id)
        task_id, worker = task.task_id, task.worker_id
        self._tasks[task_id] = task
        if task.status is TaskStatus.RUNNING and task.started_at is not None:
            self._started[task_id] = task
        if not worker:
            return
        self._views[task_id] = running_view(task)
        self._used[worker] = self._used.get(worker, _NOTHING) + task.request
        self._count[worker] += 1

    def drop(self, task_id: str) -> None:
        """`task_id` holds nothing (any more)."""
        task = self._tasks.pop(task_id, None)
        if task is None:
            return
        self._started.pop(task_id, None)
        worker = task.worker_id
        if not worker or self._views.pop(task_id, None) is None:
            return
        self._count[worker] -= 1
        if self._count[worker] <= 0:
            del self._count[worker], self._used[worker]
        else:
            self._used[worker] = self._used[worker] - task.request

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def tasks(self) -> list[Task]:
        return list(self._tasks.values())

    def views(self) -> tuple[RunningView, ...]:
        """The planner's view of every holding task on a worker."""
        return tuple(self._views.values())

    def used(self, worker_id: str) -> Resources:
        """What the tasks holding a place on `worker_id` request together."""
        return self._used.get(worker_id, _NOTHING)

    def started(self) -> list[Task]:
        """The running tasks that have a start time."""
        return list(self._started.values())
