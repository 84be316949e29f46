"""The store's queue queries and placement claims, on SQLite, PostgreSQL and the fake;
and two appliers racing on one PostgreSQL database (separate engines, as two master
processes would have) that must never overbook a worker."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloudai.domain import lifecycle as rules
from cloudai.domain.resources import Resources
from cloudai.domain.task import HOLDING, Task, TaskSpec, TaskStatus, submitted_event
from cloudai.domain.workers import Eligibility, Worker, WorkerStatus
from cloudai.ports import Claim, Store
from cloudai.store import open_store
from tests.integration.store.conftest import fresh_postgres_database

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
CPU = Resources(1.0, 0.5, 1.0, 0)


def worker(worker_id: str = "w1", cpu: float = 4.0) -> Worker:
    return Worker(
        worker_id, "127.0.0.1:1", Resources(cpu, 8, 100, 0), WorkerStatus.ACTIVE, T0, T0,
        eligibility=Eligibility.OPEN,
    )  # fmt: skip


def new_task(index: int, **changes: object) -> Task:
    spec = TaskSpec("img", "true", CPU, env={"A": "1"}, priority=-1, timeout_s=30)
    task = rules.admit(
        spec, task_id=f"t{index:05d}", user_id="u1", at=T0 + timedelta(milliseconds=index),
        task_type="cpu-light", tau_s=5,
    )  # fmt: skip
    return dataclasses.replace(task, **changes)  # type: ignore[arg-type]


async def add_tasks(store: Store, count: int) -> list[Task]:
    tasks = [new_task(i) for i in range(count)]
    for task in tasks:
        await store.add_task(task, submitted_event(task))
    return tasks


async def claim(store: Store, task: Task, w: Worker) -> Claim:
    placed = rules.place(task, worker_id=w.worker_id, at=T0 + timedelta(seconds=1))
    assert placed is not None
    return await store.claim_task(
        placed.task,
        expected_epoch=task.epoch,
        capacity=w.total,
        events=placed.events,
        attempt=placed.attempt,
    )


async def test_new_task_fields_round_trip(store: Store) -> None:
    (task,) = await add_tasks(store, 1)
    assert await store.get_task(task.task_id) == task
    assert task.env == {"A": "1"} and task.deadline == task.created_at + timedelta(seconds=10)


async def test_queue_pages_by_key_without_gaps(store: Store) -> None:
    tasks = await add_tasks(store, 7)
    seen: list[str] = []
    after = None
    while True:
        page = await store.list_tasks(statuses=[TaskStatus.QUEUED], limit=3, after=after)
        seen += [t.task_id for t in page]
        if len(page) < 3:
            break
        after = (page[-1].created_at, page[-1].task_id)
    assert seen == [t.task_id for t in tasks]


async def test_claim_checks_status_and_capacity_in_one_step(store: Store) -> None:
    w = worker(cpu=2.0)
    await store.upsert_worker(w)
    tasks = await add_tasks(store, 3)
    assert await claim(store, tasks[0], w) is Claim.CLAIMED
    assert await claim(store, tasks[0], w) is Claim.TASK_CHANGED  # no longer queued
    assert await claim(store, tasks[1], w) is Claim.CLAIMED
    assert await claim(store, tasks[2], w) is Claim.NO_CAPACITY
    stored = await store.get_task(tasks[2].task_id)
    assert stored is not None and stored.status is TaskStatus.QUEUED and stored.epoch == 0
    held = await store.list_tasks(worker_id="w1", statuses=HOLDING)
    assert [t.task_id for t in held] == [tasks[0].task_id, tasks[1].task_id]
    assert await store.get_attempt(tasks[0].task_id, 1) is not None
    assert await claim(store, tasks[2], worker("ghost")) is Claim.NO_CAPACITY


async def test_list_finished_orders_by_end_and_pages(store: Store) -> None:
    tasks = await add_tasks(store, 3)
    for index, task in enumerate(reversed(tasks)):
        ended = rules.cancel(task, None, at=T0 + timedelta(seconds=10 + index))
        assert ended is not None
        assert await store.save_task(
            ended.task, expected_status=task.status, expected_epoch=0, events=ended.events
        )
    finished = await store.list_finished(T0)
    assert [t.task_id for t in finished] == [t.task_id for t in reversed(tasks)]
    later = await store.list_finished(T0 + timedelta(seconds=11))
    assert len(later) == 2
    first = finished[0]
    assert first.finished_at is not None
    rest = await store.list_finished(T0, after=(first.finished_at, first.task_id))
    assert rest == finished[1:]


@pytest.mark.postgres
async def test_two_appliers_racing_on_postgres_never_overbook(tmp_path: Path) -> None:
    rng = random.Random(7)
    async with fresh_postgres_database() as url:
        one, two = await open_store(url), await open_store(url)
        try:
            for round_ in range(12):
                cpu = float(rng.randint(1, 5))
                w = worker(f"w{round_}", cpu=cpu)
                await one.upsert_worker(w)
                tasks = [new_task(round_ * 100 + i) for i in range(8)]
                for task in tasks:
                    await one.add_task(task, submitted_event(task))
                shuffled = rng.sample(tasks, len(tasks))
                outcomes = await asyncio.gather(
                    *(claim(one, t, w) for t in tasks), *(claim(two, t, w) for t in shuffled)
                )
                held = await two.list_tasks(worker_id=w.worker_id, statuses=HOLDING)
                assert len(held) == int(cpu), f"round {round_}: {len(held)} on {cpu} CPU"
                assert outcomes.count(Claim.CLAIMED) == int(cpu)
        finally:
            await one.close()
            await two.close()


async def test_sla_counts_group_judged_tasks_by_type_and_scheduler(store: Store) -> None:
    judged = [
        new_task(1, sla_met=True, scheduler="rts"),
        new_task(2, sla_met=False, scheduler="rts"),
        new_task(3, sla_met=True, scheduler="best_fit", task_type="mixed"),
        new_task(4),  # not judged (still queued)
    ]
    for task in judged:
        await store.add_task(task, submitted_event(task))
    counts = await store.sla_counts()
    assert [(c.task_type, c.scheduler, c.met, c.total) for c in counts] == [
        ("cpu-light", "rts", 1, 2),
        ("mixed", "best_fit", 1, 1),
    ]
