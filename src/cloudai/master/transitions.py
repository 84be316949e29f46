"""The one write path for task status: load, check the table, compare-and-set.

Every caller names the status and epoch it believes the task is in; if another
writer got there first the change is re-evaluated against the fresh row, so
concurrent reports, cancels and placements never double-apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from cloudai.domain.errors import NotFound
from cloudai.domain.task import Attempt, Task, TaskResult, TaskStatus, transition
from cloudai.master.watch import TaskWatch
from cloudai.ports import Clock, Store

_MAX_CAS_ROUNDS = 8


@dataclass(slots=True)
class Change:
    """What to write alongside a transition, built from the fresh task row."""

    to: TaskStatus
    reason: str
    attempt: Attempt | None = None  # a new attempt (placement)
    attempt_changes: dict[str, Any] | None = None  # fields to update on the current one
    result: TaskResult | None = None
    new_epoch: bool = False  # a new attempt starts (placement)


# Decides, from the current row, the change to make; None means "nothing to do".
Decide = Callable[[Task], Change | None]


class TaskWriter:
    """The single writer of task status; wakes blocking readers after each commit."""

    def __init__(self, store: Store, clock: Clock, watch: TaskWatch) -> None:
        self._store = store
        self._clock = clock
        self._watch = watch

    async def change(self, task_id: str, decide: Decide) -> Task | None:
        """Apply `decide(task)` with compare-and-set; returns the new task or None when
        `decide` declined. Raises NotFound for an unknown task."""
        for _ in range(_MAX_CAS_ROUNDS):
            task = await self._store.get_task(task_id)
            if task is None:
                raise NotFound(f"task {task_id} not found")
            change = decide(task)
            if change is None:
                return None
            if await self._save(task, change):
                await self._watch.bump()
                return task
        raise RuntimeError(f"task {task_id}: compare-and-set kept losing; giving up")

    async def _save(self, task: Task, change: Change) -> bool:
        expected_status, expected_epoch = task.status, task.epoch
        attempt = change.attempt
        if change.attempt_changes is not None:
            prior = await self._store.get_attempt(task.task_id, task.epoch)
            if prior is None:  # an attempt is always recorded at placement
                raise RuntimeError(f"task {task.task_id}: attempt {task.epoch} missing")
            attempt = replace(prior, **change.attempt_changes)
        if change.new_epoch:
            task.epoch += 1
        event = transition(task, change.to, at=self._clock.now(), reason=change.reason)
        return await self._store.save_task(
            task,
            expected_status=expected_status,
            expected_epoch=expected_epoch,
            events=[event],
            attempt=attempt,
            result=change.result,
        )
