"""The master's internal event bus: typed events from the task writer and the worker
registry, fanned out to whoever listens (WebSocket streams, blocking waits).

Publishing never waits and never grows without bound:

- a `Subscription` (a stream) gets every matching event through its own bounded queue;
  one whose queue is full has fallen behind and is dropped: its next read raises
  `Dropped`, so the stream ends with an error instead of buffering;
- a `Signal` (a blocking wait) only needs to know that something changed, so it keeps
  one flag: it coalesces bursts and can never fall behind.

Closing the bus (the master stops) ends every subscriber at once: streams raise
`Closed`, waits return, so no open stream holds the HTTP server's shutdown up.

Everything runs on the master's event loop; the bus owns the set of subscribers, each
subscriber its own queue or flag. A subscriber that names a task is offered only that
task's events (kept per task), so a thousand waiters on a thousand tasks cost each
event one lookup, not a thousand filter calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar

from cloudai.domain.errors import Unavailable
from cloudai.domain.task import TaskStatus
from cloudai.domain.workers import Eligibility, Usage, WorkerStatus

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY = 1000  # events a stream may lag behind before it is dropped
DEFAULT_MAX_SUBSCRIBERS = 10_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TaskChanged:
    """A committed status change of a task (a submission has `from_status` None)."""

    task_id: str
    user_id: str
    from_status: TaskStatus | None
    to_status: TaskStatus
    epoch: int
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class WorkerChanged:
    """A worker joined, or its liveness or eligibility changed."""

    worker_id: str
    status: WorkerStatus
    eligibility: Eligibility


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """An accepted heartbeat and the usage it reported."""

    worker_id: str
    at: datetime
    usage: Usage


@dataclass(frozen=True, slots=True)
class Nudge:
    """Something without an event of its own changed (a task's files were stored):
    blocking waits re-check; streams ignore it."""

    task_id: str | None = None  # the task concerned (None: anything may have changed)


Event = TaskChanged | WorkerChanged | Heartbeat | Nudge
Filter = Callable[[Event], bool]


def everything(_event: Event) -> bool:
    return True


class Ended(Exception):
    """The subscription is over: read no more."""


class Dropped(Ended):
    """The subscriber fell behind by more than its queue holds and was dropped."""


class Closed(Ended):
    """The bus was closed: the master is stopping."""


class _Subscriber(Protocol):
    def offer(self, event: Event) -> bool:
        """Take the event if it matches; False when full (the bus then drops it)."""
        ...

    def end(self, why: Ended) -> None: ...


class EventBus:
    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        *,
        max_subscribers: int = DEFAULT_MAX_SUBSCRIBERS,
    ) -> None:
        if capacity < 1 or max_subscribers < 1:
            raise ValueError("capacity and max_subscribers must be at least 1")
        self._capacity = capacity
        self._max_subscribers = max_subscribers
        self._subscribers: dict[int, _Subscriber] = {}  # those offered every event
        self._by_task: dict[str, dict[int, _Subscriber]] = {}  # those offered one task's
        self._task_of: dict[int, str] = {}
        self._next_id = 0
        self._closed = False
        self.dropped_total = 0  # subscribers dropped for falling behind, since start

    @property
    def subscribers(self) -> int:
        return len(self._subscribers) + len(self._task_of)

    def publish(self, event: Event) -> None:
        self._offer(self._subscribers, event)
        task_id = event.task_id if isinstance(event, TaskChanged | Nudge) else None
        keyed = self._by_task.get(task_id) if task_id is not None else None
        if keyed:
            self._offer(keyed, event)
        elif isinstance(event, Nudge) and task_id is None:
            for members in list(self._by_task.values()):
                self._offer(members, event)

    def _offer(self, members: dict[int, _Subscriber], event: Event) -> None:
        for key, subscriber in list(members.items()):
            if not subscriber.offer(event):
                self._remove(key)
                subscriber.end(Dropped("fell behind the event stream"))
                self.dropped_total += 1
                logger.warning("event subscriber fell behind; dropped")

    def close(self) -> None:
        """The master is stopping: every subscriber ends now (streams raise `Closed`,
        waits return), so no open stream holds the HTTP server's shutdown up."""
        self._closed = True
        subscribers = list(self._subscribers.values())
        subscribers += [m for members in self._by_task.values() for m in members.values()]
        self._subscribers, self._by_task, self._task_of = {}, {}, {}
        for subscriber in subscribers:
            subscriber.end(Closed("the master is stopping"))

    def subscribe(
        self,
        accept: Filter = everything,
        capacity: int | None = None,
        *,
        task_id: str | None = None,
    ) -> Subscription:
        """A stream of the matching events (of `task_id` only, if given), from now on;
        close it (or use `with`)."""
        subscription = Subscription(self, accept, capacity or self._capacity)
        subscription.key = self._add(subscription, task_id)
        return subscription

    def signal(self, accept: Filter = everything, *, task_id: str | None = None) -> Signal:
        """A flag raised by every matching event (of `task_id` only, if given), from now
        on; close it (or use `with`)."""
        signal = Signal(self, accept)
        signal.key = self._add(signal, task_id)
        return signal

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
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        with self.signal(
            on, task_id=task_id
        ) as changed:  # listening before the first check: nothing slips by
            while True:
                done, value = await check()
                remaining = deadline - loop.time()
                if done or remaining <= 0 or changed.closed:
                    return value
                await changed.wait(remaining)

    def _add(self, subscriber: _Subscriber, task_id: str | None = None) -> int:
        if self._closed:
            raise Unavailable("the master is stopping")
        if self.subscribers >= self._max_subscribers:
            raise Unavailable("too many event subscribers; try again later")
        self._next_id += 1
        if task_id is None:
            self._subscribers[self._next_id] = subscriber
        else:
            self._by_task.setdefault(task_id, {})[self._next_id] = subscriber
            self._task_of[self._next_id] = task_id
        return self._next_id

    def _remove(self, key: int) -> None:
        task_id = self._task_of.pop(key, None)
        if task_id is None:
            self._subscribers.pop(key, None)
            return
        members = self._by_task.get(task_id, {})
        members.pop(key, None)
        if not members:
            self._by_task.pop(task_id, None)


class _Member:
    """What subscriptions and signals share: leaving the bus, as a context manager."""

    key = 0

    def __init__(self, bus: EventBus, accept: Filter) -> None:
        self._bus = bus
        self._accept = accept

    def close(self) -> None:
        self._bus._remove(self.key)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Subscription(_Member):
    def __init__(self, bus: EventBus, accept: Filter, capacity: int) -> None:
        super().__init__(bus, accept)
        self._queue: asyncio.Queue[Event] = asyncio.Queue(capacity)
        self._ended: Ended | None = None

    def offer(self, event: Event) -> bool:
        if not self._accept(event):
            return True
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    def end(self, why: Ended) -> None:
        self._ended = why
        with contextlib.suppress(asyncio.QueueFull):  # full: nobody waits in get()
            self._queue.put_nowait(Nudge())  # wakes a waiting get(), which then raises

    async def get(self) -> Event:
        """The next event; raises `Dropped` once the subscriber fell behind (what was
        still queued is discarded: the stream has a gap and must end), `Closed` once
        the bus was."""
        if self._ended is None:
            event = await self._queue.get()
        if self._ended is not None:
            raise self._ended
        return event


class Signal(_Member):
    def __init__(self, bus: EventBus, accept: Filter) -> None:
        super().__init__(bus, accept)
        self._raised = asyncio.Event()
        self.closed = False  # by the bus: stop waiting

    def offer(self, event: Event) -> bool:
        if self._accept(event):
            self._raised.set()
        return True

    def end(self, why: Ended) -> None:  # a signal never falls behind: only a close ends it
        self.closed = True
        self._raised.set()  # and keeps it raised: every later wait returns at once

    async def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until a matching event came since the last wait (at once if one did),
        or `timeout_s` passes, or the bus closes; True unless time ran out. Lowers the
        flag."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._raised.wait()
        except TimeoutError:
            return False
        if not self.closed:
            self._raised.clear()
        return True
