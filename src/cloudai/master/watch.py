"""Blocking reads: wait until a task (or anything else the master tracks) reaches a
state, without polling.

A thin face of the event bus for the callers that wait (`/api/tasks/{id}/wait`, tests):
each waiter holds a signal raised by the events it cares about (those of its task when
it names one, filtered by `on`) and re-runs its check when one came.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from cloudai.master.bus import EventBus, Filter, Nudge, everything

T = TypeVar("T")


class TaskWatch:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def bump(self, task_id: str | None = None) -> None:
        """Something without an event of its own changed (a task's files arrived)."""
        self._bus.publish(Nudge(task_id))

    async def wait_for(
        self,
        check: Callable[[], Awaitable[tuple[bool, T]]],
        timeout_s: float,
        on: Filter = everything,
        *,
        task_id: str | None = None,
    ) -> T:
        """Re-run `check` after every matching event (of `task_id` only, if given)
        until it says done or time runs out; returns its last value either way."""
        return await self._bus.wait_for(check, timeout_s, on, task_id=task_id)
