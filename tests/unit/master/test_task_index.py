"""The scheduling index: kept current by what the writer records, rebuilt from the store,
and never losing what is recorded while a rebuild reads."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from cloudai.domain.resources import Resources
from cloudai.domain.task import Attempt, AttemptStatus, Task, TaskEvent, TaskStatus
from cloudai.master.task_index import TaskIndex
from cloudai.store.memory import InMemoryStore

AT = datetime(2026, 1, 1, tzinfo=UTC)


def task(task_id: str, status: TaskStatus = TaskStatus.QUEUED, minute: int = 0) -> Task:
    return Task(
        task_id=task_id,
        user_id="u1",
        name=task_id,
        docker_image="busybox",
        command=["true"],
        request=Resources(cpu=1),
        tag="mixed",
        k_value=2.0,
        status=status,
        created_at=AT + timedelta(minutes=minute),
        updated_at=AT,
    )


def submitted(t: Task) -> TaskEvent:
    return TaskEvent(t.task_id, t.created_at, None, TaskStatus.QUEUED, "submitted")


def ids(index: TaskIndex) -> list[str]:
    return [view.task_id for view in index.queue()]


def test_recorded_tasks_move_between_queue_and_holding_and_leave_when_finished() -> None:
    index = TaskIndex()
    index.record(task("b", minute=2))
    index.record(task("a", minute=1))
    assert ids(index) == ["a", "b"]  # oldest first, whatever the recording order
    index.record(task("a", TaskStatus.ASSIGNED, minute=1))
    assert ids(index) == ["b"]
    assert [t.task_id for t in index.holding()] == ["a"]
    index.record(task("a", TaskStatus.COMPLETED, minute=1))
    assert index.holding() == []
    index.record(task("b", TaskStatus.CANCELLED, minute=2))
    assert (ids(index), len(index)) == ([], 0)


def test_the_current_attempt_is_known_while_the_task_holds_and_this_master_wrote_it() -> None:
    index = TaskIndex()
    placed = dataclasses.replace(task("a", TaskStatus.ASSIGNED), epoch=1, worker_id="w1")
    index.record(placed)  # no attempt written with it: the store knows, not the index
    assert index.current("a") is None
    attempt = Attempt("a", 1, "w1", AT)
    index.record(placed, attempt)
    assert index.current("a") == (placed, attempt)
    running = dataclasses.replace(placed, status=TaskStatus.RUNNING)
    index.record(running)  # a transition that left the attempt as it was
    assert index.current("a") == (running, attempt)
    started = dataclasses.replace(attempt, status=AttemptStatus.RUNNING)
    index.record(running, started)
    assert index.current("a") == (running, started)
    index.record(dataclasses.replace(running, epoch=2))  # a later epoch: not that attempt
    assert index.current("a") is None
    index.record(running, started)
    index.record(dataclasses.replace(running, status=TaskStatus.COMPLETED), started)
    assert index.current("a") is None  # it holds nothing any more


def test_a_requeued_task_returns_to_the_queue_with_its_new_fields() -> None:
    index = TaskIndex()
    index.record(task("a", TaskStatus.RUNNING))
    index.record(dataclasses.replace(task("a"), priority=5))
    assert index.holding() == []
    assert [(v.task_id, v.priority) for v in index.queue()] == [("a", 5)]


async def test_a_rebuild_reads_the_store_and_replays_what_was_recorded_meanwhile() -> None:
    store = InMemoryStore()
    for t in (task("q", minute=1), task("r", TaskStatus.QUEUED, minute=2)):
        await store.add_task(t, submitted(t))
    index = TaskIndex()
    assert index.stale
    reading, proceed = asyncio.Event(), asyncio.Event()
    original = store.list_tasks

    async def slow_list(**kwargs: object) -> list[Task]:
        listed = await original(**kwargs)  # type: ignore[arg-type]
        reading.set()
        await proceed.wait()  # the recordings below happen after this read
        return listed

    store.list_tasks = slow_list  # type: ignore[method-assign]
    rebuild = asyncio.create_task(index.rebuild(store))
    await reading.wait()
    index.record(task("late", minute=3))  # committed after the read began
    index.record(task("q", TaskStatus.ASSIGNED, minute=1))
    proceed.set()
    await rebuild
    assert not index.stale
    assert ids(index) == ["r", "late"]
    assert [t.task_id for t in index.holding()] == ["q"]


async def test_concurrent_rebuilds_take_turns() -> None:
    store = InMemoryStore()
    t = task("q")
    await store.add_task(t, submitted(t))
    index = TaskIndex()
    await asyncio.gather(index.rebuild(store), index.rebuild(store))
    assert ids(index) == ["q"]
