"""The event bus: fan-out by filter, bounded subscribers dropped when they fall behind,
coalescing signals, and the blocking wait built on them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from cloudai.domain.errors import Unavailable
from cloudai.domain.task import TaskStatus
from cloudai.domain.workers import Eligibility, Usage, WorkerStatus
from cloudai.master.bus import (
    Closed,
    Dropped,
    Event,
    EventBus,
    Heartbeat,
    Nudge,
    TaskChanged,
    WorkerChanged,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)


def changed(task_id: str, to: TaskStatus = TaskStatus.QUEUED) -> TaskChanged:
    return TaskChanged(task_id, "u1", None, to, 0, "", AT)


def tasks_only(event: Event) -> bool:
    return isinstance(event, TaskChanged)


async def test_a_subscription_gets_the_matching_events_in_order() -> None:
    bus = EventBus()
    with bus.subscribe(tasks_only) as stream:
        bus.publish(changed("t1"))
        bus.publish(Heartbeat("w1", AT, Usage(cpu=1.0)))
        bus.publish(WorkerChanged("w1", WorkerStatus.LOST, Eligibility.OPEN))
        bus.publish(changed("t2"))
        assert [await stream.get(), await stream.get()] == [changed("t1"), changed("t2")]
    assert bus.subscribers == 0  # leaving the block unsubscribes


async def test_a_subscriber_that_falls_behind_is_dropped_not_buffered() -> None:
    bus = EventBus(capacity=3)
    with bus.subscribe() as slow, bus.subscribe(capacity=10) as fast:
        for n in range(4):
            bus.publish(changed(f"t{n}"))
        assert bus.subscribers == 1 and bus.dropped_total == 1
        with pytest.raises(Dropped):
            await slow.get()  # even though three events are still queued
        assert [await fast.get() for _ in range(4)] == [changed(f"t{n}") for n in range(4)]


async def test_a_signal_coalesces_and_never_falls_behind() -> None:
    bus = EventBus(capacity=1)
    with bus.signal(tasks_only) as signal:
        assert await signal.wait(0) is False
        for n in range(5):
            bus.publish(changed(f"t{n}"))
        assert bus.subscribers == 1
        assert await signal.wait(0) is True
        assert await signal.wait(0) is False  # one wake for the burst
        bus.publish(Nudge())  # filtered out
        assert await signal.wait(0) is False


async def test_wait_for_rechecks_after_each_event_until_done() -> None:
    bus = EventBus()
    status = TaskStatus.QUEUED
    checked: asyncio.Queue[TaskStatus] = asyncio.Queue()

    async def check() -> tuple[bool, TaskStatus]:
        checked.put_nowait(status)
        return status is TaskStatus.COMPLETED, status

    waiting = asyncio.create_task(bus.wait_for(check, 30))
    assert await checked.get() is TaskStatus.QUEUED  # it listens from before this check
    for status in (TaskStatus.RUNNING, TaskStatus.COMPLETED):  # what check() reads
        bus.publish(changed("t1", status))
        assert await checked.get() is status
    assert await waiting is TaskStatus.COMPLETED
    assert bus.subscribers == 0


async def test_wait_for_answers_the_last_value_when_time_runs_out() -> None:
    bus = EventBus()

    async def never() -> tuple[bool, str]:
        return False, "still queued"

    assert await bus.wait_for(never, 0.01) == "still queued"
    assert bus.subscribers == 0


def test_the_number_of_subscribers_is_bounded() -> None:
    bus = EventBus(max_subscribers=2)
    bus.subscribe()
    bus.signal()
    with pytest.raises(Unavailable, match="too many"):
        bus.subscribe()


async def test_closing_ends_every_subscriber_at_once() -> None:
    bus = EventBus()
    stream, signal = bus.subscribe(), bus.signal()
    reading = asyncio.create_task(stream.get())
    waiting = asyncio.create_task(bus.wait_for(_never, 300))
    # Callbacks run in order: both tasks park (in get(), in wait()) before the close.
    asyncio.get_running_loop().call_soon(bus.close)
    with pytest.raises(Closed):
        await reading
    assert await waiting == "not yet"  # at once, not after 300 s
    assert await signal.wait() is True and await signal.wait() is True and signal.closed
    assert bus.subscribers == 0
    with pytest.raises(Unavailable, match="stopping"):
        bus.subscribe()


async def _never() -> tuple[bool, str]:
    return False, "not yet"


async def test_a_subscriber_naming_a_task_gets_only_that_tasks_events() -> None:
    bus = EventBus()
    with bus.subscribe(task_id="t1") as one, bus.subscribe(tasks_only) as every:
        bus.publish(changed("t2"))
        bus.publish(Heartbeat("w1", AT, Usage(cpu=1.0)))
        bus.publish(changed("t1", TaskStatus.RUNNING))
        assert await one.get() == changed("t1", TaskStatus.RUNNING)
        assert [await every.get(), await every.get()] == [
            changed("t2"),
            changed("t1", TaskStatus.RUNNING),
        ]
        assert bus.subscribers == 2
    assert bus.subscribers == 0


async def test_a_nudge_reaches_the_waiters_of_its_task_or_all_when_it_names_none() -> None:
    bus = EventBus()
    with bus.signal(task_id="t1") as first, bus.signal(task_id="t2") as second:
        bus.publish(Nudge("t1"))
        assert await first.wait(0) and not await second.wait(0)
        bus.publish(Nudge())
        assert await first.wait(0) and await second.wait(0)


async def test_a_keyed_subscriber_that_falls_behind_is_dropped_and_counted() -> None:
    bus = EventBus(capacity=1)
    with bus.subscribe(task_id="t1") as slow:
        bus.publish(changed("t1"))
        bus.publish(changed("t1", TaskStatus.RUNNING))
        with pytest.raises(Dropped):
            await slow.get()
    assert (bus.subscribers, bus.dropped_total) == (0, 1)


def test_keyed_subscribers_count_towards_the_bound() -> None:
    bus = EventBus(max_subscribers=2)
    with bus.signal(task_id="t1"), bus.signal(), pytest.raises(Unavailable):
        bus.signal(task_id="t2")
