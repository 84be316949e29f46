"""The one write path for task status: load, decide (a pure domain function), compare-and-set.

The decision is re-made against the fresh row whenever another writer got there
first, so concurrent reports, cancels and placements never double-apply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from cloudai.domain.errors import NotFound
from cloudai.domain.lifecycle import Transition
from cloudai.domain.task import Attempt, Task, TaskEvent
from cloudai.master.bus import EventBus, TaskChanged
from cloudai.ports import Store

if TYPE_CHECKING:  # the index reads through lifecycle, which imports this module
    from cloudai.master.task_index import TaskIndex

_MAX_CAS_ROUNDS = 8

# (task, its current attempt or None) -> the transition, or None for "nothing to do".
Decide = Callable[[Task, Attempt | None], Transition | None]
# Told of every committed transition (the task as it was, and what was written).
Observer = Callable[[Task, Transition], None]


class TaskWriter:
    """The single writer of task status; publishes every committed change on the bus
    (which wakes blocking readers and feeds the event streams), and keeps the
    scheduling index current."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        observers: Sequence[Observer] = (),
        index: TaskIndex | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._observers = list(observers)
        self._index = index
        # The changes being written, by task: one at a time per task on this master, so
        # a report right behind another (a completion behind its start) decides on what
        # the first wrote rather than losing the compare-and-set to it and re-reading.
        self._changing: dict[str, asyncio.Event] = {}

    def observe(self, observer: Observer) -> None:
        self._observers.append(observer)

    async def current(self, task_id: str) -> tuple[Task, Attempt | None]:
        """The task and, while it holds resources, its current attempt (one snapshot)."""
        found = await self._store.get_current(task_id)
        if found is None:
            raise NotFound(f"task {task_id} not found")
        task, attempt = found
        return task, attempt if task.status.holds_resources else None

    async def queued(self, task_id: str) -> Task:
        """A queued task as the index last saw it written, else as the store has it now
        (in any status). A claim's compare-and-set catches an index behind the store."""
        known = self._index.queued_task(task_id) if self._index is not None else None
        if known is not None:
            return known
        return (await self.current(task_id))[0]

    async def change(self, task_id: str, decide: Decide) -> Task | None:
        """Apply `decide` with compare-and-set; the new task, or None when `decide`
        declined. Raises NotFound for an unknown task."""
        while (ahead := self._changing.get(task_id)) is not None:
            await ahead.wait()
        done = self._changing[task_id] = asyncio.Event()
        try:
            return await self._change(task_id, decide)
        finally:
            del self._changing[task_id]
            done.set()

    async def _change(self, task_id: str, decide: Decide) -> Task | None:
        known = self._index.current(task_id) if self._index is not None else None
        for _ in range(_MAX_CAS_ROUNDS):
            # First what this master last wrote, if it holds resources; after a lost
            # compare-and-set (or with nothing known), the store's row.
            task, attempt = known or await self.current(task_id)
            known = None
            transition = decide(task, attempt)
            if transition is None:
                return None
            saved = await self._store.save_task(
                transition.task,
                expected_status=task.status,
                expected_epoch=task.epoch,
                events=transition.events,
                attempt=transition.attempt,
                result=transition.result,
            )
            if saved:
                await self.committed(task, transition)
                return transition.task
        raise RuntimeError(f"task {task_id}: compare-and-set kept losing; giving up")

    async def add(self, task: Task, submitted: TaskEvent) -> None:
        """Store a new task with its submission event, and publish that."""
        await self._store.add_task(task, submitted)
        if self._index is not None:
            self._index.record(task)
        self._bus.publish(_changed(task, submitted))

    async def committed(self, before: Task, transition: Transition) -> None:
        """Tell observers and the bus about a transition written by this or another
        path (the plan applier writes its claims itself)."""
        if self._index is not None:
            self._index.record(transition.task, transition.attempt)
        for observer in self._observers:
            observer(before, transition)
        for event in transition.events:  # a late start report may carry two moves
            self._bus.publish(_changed(transition.task, event))


def _changed(task: Task, event: TaskEvent) -> TaskChanged:
    return TaskChanged(
        task_id=task.task_id,
        user_id=task.user_id,
        from_status=event.from_status,
        to_status=event.to_status,
        epoch=event.epoch,
        reason=event.reason,
        at=event.at,
    )
