"""The `Store` contract: every `store` test runs on SQLite, PostgreSQL and the in-memory
fake; the migration test (`db_url`) on SQLite and PostgreSQL only."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from cloudai.domain.errors import Conflict
from cloudai.domain.resources import Resources
from cloudai.domain.task import (
    Attempt,
    AttemptStatus,
    OutputFile,
    Task,
    TaskEvent,
    TaskResult,
    TaskStatus,
    submitted_event,
    transition,
)
from cloudai.domain.users import Role, User
from cloudai.domain.workers import Usage, Worker, WorkerStatus
from cloudai.ports import Store
from cloudai.store import migrate, open_store
from cloudai.store.engine import alembic_config
from cloudai.store.tables import metadata

# Microseconds included: they must survive the round trip.
T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
TABLES = {
    "users",
    "workers",
    "tasks",
    "assignments",
    "results",
    "file_metadata",
    "task_events",
    "cluster_meta",
    "api_tokens",
    "worker_registrations",
}


def make_task(task_id: str = "t1", user_id: str = "u1", **changes: Any) -> Task:
    task = Task(
        task_id=task_id,
        user_id=user_id,
        name=f"job {task_id}",
        docker_image="python:3.12-slim",
        command=["python", "-c", "print(1)"],
        request=Resources(cpu=1.5, memory_gb=0.5, storage_gb=2.0, gpu=1),
        tag="train",
        k_value=2.5,
        created_at=T0,
        updated_at=T0,
    )
    return dataclasses.replace(task, **changes)


async def add(store: Store, task: Task) -> Task:
    await store.add_task(task, submitted_event(task))
    return task


def assign(task: Task, worker_id: str, at: datetime) -> tuple[Task, TaskEvent, Attempt]:
    """The next state of `task` (a copy) after it is placed on `worker_id`."""
    moved, event = transition(
        task, TaskStatus.ASSIGNED, at=at, reason="placed", epoch=task.epoch + 1, worker_id=worker_id
    )
    return moved, event, Attempt(moved.task_id, moved.epoch, worker_id, at)


# --------------------------------------------------------------------------- migrations


def _schema(conn: Connection) -> tuple[set[str], str | None, list[Any]]:
    tables = set(inspect(conn).get_table_names())
    version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    drift = compare_metadata(MigrationContext.configure(conn), metadata)
    return tables, version, drift


async def test_migrations_build_the_schema_and_rerun_as_no_op(db_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_async_engine(db_url)
    try:
        for _ in range(2):  # the second run must change nothing
            # migrate() runs its own event loop, hence the thread.
            await asyncio.to_thread(migrate, db_url)
            async with engine.connect() as conn:
                tables, version, drift = await conn.run_sync(_schema)
            assert tables == TABLES | {"alembic_version"}
            assert version == head
            assert drift == []  # the migration builds exactly tables.py
    finally:
        await engine.dispose()
    reopened = await open_store(db_url)  # and opening a migrated database is fine
    assert await reopened.list_tasks() == []
    await reopened.close()


# --------------------------------------------------------------------------- users and workers


async def test_users_round_trip_and_duplicates_conflict(store: Store) -> None:
    alice = User("u1", "alice@example.com", "Alice", "$argon2id$x", Role.ADMIN, T0)
    await store.add_user(alice)
    assert await store.get_user("u1") == alice
    assert await store.get_user_by_email("alice@example.com") == alice
    assert await store.get_user("nobody") is None
    assert await store.get_user_by_email("nobody@example.com") is None
    with pytest.raises(Conflict):
        await store.add_user(dataclasses.replace(alice, email="other@example.com"))
    with pytest.raises(Conflict):
        await store.add_user(dataclasses.replace(alice, user_id="u2"))
    assert await store.get_user("u2") is None


async def test_workers_upsert_get_list(store: Store) -> None:
    w1 = Worker(
        "w1",
        "10.0.0.1:50051",
        Resources(8.0, 32.0, 100.0, 2),
        WorkerStatus.ACTIVE,
        T0,
        T0,
        Usage(12.5, 40.0, 3.0, 0.0),
    )
    w2 = dataclasses.replace(w1, worker_id="w2", address="10.0.0.2:50051")
    await store.upsert_worker(w2)
    await store.upsert_worker(w1)
    assert await store.get_worker("w1") == w1
    assert await store.get_worker("nope") is None
    later = dataclasses.replace(
        w1, status=WorkerStatus.SUSPECT, last_heartbeat=T0 + timedelta(seconds=30), usage=Usage()
    )
    await store.upsert_worker(later)
    assert await store.get_worker("w1") == later
    assert await store.list_workers() == [later, w2]


# --------------------------------------------------------------------------- tasks


@pytest.mark.parametrize(
    "command", ["echo 'hi there'", ["python", "-c", "print('x y')"], [], None], ids=repr
)
async def test_task_round_trip(store: Store, command: str | list[str] | None) -> None:
    task = await add(store, make_task(command=command))
    got = await store.get_task("t1")
    assert got == task
    assert got is not None and got.created_at.utcoffset() == timedelta(0)
    assert await store.get_task("missing") is None
    assert await store.list_events("t1") == [submitted_event(task)]


async def test_datetimes_come_back_aware_in_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    local = T0.astimezone(paris)
    task = await add(store, make_task(created_at=local, updated_at=local, started_at=local))
    got = await store.get_task(task.task_id)
    assert got is not None
    for stamp in (got.created_at, got.updated_at, got.started_at):
        assert stamp == T0  # same instant...
        assert stamp is not None and stamp.tzinfo is not None
        assert stamp.utcoffset() == timedelta(0)  # ...expressed in UTC
    assert got.finished_at is None


async def test_duplicate_task_conflicts_and_writes_nothing(store: Store) -> None:
    task = await add(store, make_task())
    with pytest.raises(Conflict):
        await add(store, make_task(name="again"))
    assert await store.get_task("t1") == task
    assert len(await store.list_events("t1")) == 1


async def test_list_tasks_orders_filters_and_pages(store: Store) -> None:
    at = [T0 + timedelta(seconds=s) for s in range(4)]
    a = await add(store, make_task("a", "u1", created_at=at[0]))
    b = await add(store, make_task("b", "u2", created_at=at[1]))
    # c and d share a timestamp: task_id breaks the tie.
    c = await add(store, make_task("c", "u1", created_at=at[2], status=TaskStatus.RUNNING))
    d = await add(store, make_task("d", "u1", created_at=at[2]))
    e = await add(store, make_task("e", "u1", created_at=at[3], status=TaskStatus.FAILED))

    assert await store.list_tasks() == [a, b, c, d, e]
    assert await store.list_tasks(user_id="u1") == [a, c, d, e]
    assert await store.list_tasks(user_id="u1", newest_first=True) == [e, d, c, a]
    assert await store.list_tasks(newest_first=True, limit=2) == [e, d]
    assert await store.list_tasks(user_id="u2") == [b]
    assert await store.list_tasks(user_id="nobody") == []
    assert await store.list_tasks(statuses={TaskStatus.QUEUED}) == [a, b, d]
    running_or_failed = [TaskStatus.RUNNING, TaskStatus.FAILED]
    assert await store.list_tasks(user_id="u1", statuses=running_or_failed) == [c, e]
    assert await store.list_tasks(statuses=[]) == []
    assert await store.list_tasks(limit=2) == [a, b]
    assert await store.list_tasks(limit=2, offset=2) == [c, d]
    assert await store.list_tasks(user_id="u1", limit=2, offset=1, newest_first=True) == [d, c]
    assert await store.list_tasks(offset=10) == []
    assert await store.count_tasks() == 5
    assert await store.count_tasks(user_id="u1", statuses=running_or_failed) == 2
    assert await store.count_tasks(statuses={TaskStatus.QUEUED}) == 3
    assert await store.count_tasks(user_id="nobody") == 0
    by_status = await store.count_by_status()
    assert set(by_status) == set(TaskStatus)  # every status, zero included
    assert sum(by_status.values()) == 5
    assert by_status[TaskStatus.QUEUED] == 3 and by_status[TaskStatus.COMPLETED] == 0
    # Keyset paging in either order, and the tag / since filters.
    key = (d.created_at, d.task_id)
    assert await store.list_tasks(newest_first=True, after=key) == [c, b, a]
    assert await store.list_tasks(after=key) == [e]
    assert await store.list_tasks(tag="train", since=at[2]) == [c, d, e]
    assert await store.list_tasks(tag="other") == []


async def test_list_tasks_by_id_prefix(store: Store) -> None:
    """Case-sensitive, and `%` / `_` are literal (SQLite's LIKE would ignore case)."""
    ids = ["task-ab1", "task-ab2", "task-b", "TASK-AB3", "task-a%x", "task-a_y", "task-azz"]
    made = {i: await add(store, make_task(i, "u1")) for i in ids}
    await add(store, make_task("task-ab4", "u2"))

    def found(tasks: list[Task]) -> set[str]:
        return {t.task_id for t in tasks}

    assert found(await store.list_tasks(id_prefix="task-ab", user_id="u1")) == {
        "task-ab1", "task-ab2",
    }  # fmt: skip
    assert found(await store.list_tasks(id_prefix="task-ab")) == {"task-ab1", "task-ab2",
                                                                   "task-ab4"}  # fmt: skip
    assert await store.list_tasks(id_prefix="task-ab1") == [made["task-ab1"]]
    assert found(await store.list_tasks(id_prefix="task-a%")) == {"task-a%x"}
    assert found(await store.list_tasks(id_prefix="task-a_")) == {"task-a_y"}
    assert found(await store.list_tasks(id_prefix="TASK-")) == {"TASK-AB3"}
    assert await store.list_tasks(id_prefix="task-ab10") == []
    assert len(await store.list_tasks(id_prefix="task-", limit=3)) == 3


async def test_list_tasks_by_search_matches_id_name_or_image_in_any_case(store: Store) -> None:
    await add(store, make_task("task-1", name="Nightly Train", docker_image="busybox"))
    await add(store, make_task("task-2", name="eval", docker_image="registry.test/TRAINER:1"))
    await add(store, make_task("task-3", name="100% done", docker_image="busybox"))
    await add(store, make_task("task-train", name="other", docker_image="busybox"))
    await add(store, make_task("task-4", name="in/out", docker_image="busybox"))

    def found(search: str) -> set[str]:
        return {t.task_id for t in tasks_of[search]}

    tasks_of = {q: await store.list_tasks(search=q) for q in ("train", "0%", "_", "BUSY", "/")}
    assert found("train") == {"task-1", "task-2", "task-train"}
    assert found("0%") == {"task-3"}  # % and _ are literal
    assert found("_") == set()
    assert found("BUSY") == {"task-1", "task-3", "task-train", "task-4"}
    assert found("/") == {"task-2", "task-4"}  # the escape character is literal too


# --------------------------------------------------------------------------- the cluster


async def test_the_first_claimed_cluster_id_stays(store: Store) -> None:
    assert await store.claim_cluster_id("cluster-a") == "cluster-a"
    assert await store.claim_cluster_id("cluster-b") == "cluster-a"


# --------------------------------------------------------------------------- save_task (CAS)


async def test_current_pairs_the_task_with_the_attempt_of_its_epoch(store: Store) -> None:
    queued = await add(store, make_task())
    assert await store.get_current("t1") == (queued, None)
    assert await store.get_current("missing") is None
    first, ev1, attempt1 = assign(queued, "w1", T0 + timedelta(seconds=1))
    assert await store.save_task(
        first, expected_status=TaskStatus.QUEUED, expected_epoch=0, events=[ev1], attempt=attempt1
    )
    lost = dataclasses.replace(attempt1, status=AttemptStatus.LOST)
    requeued, ev2 = transition(first, TaskStatus.QUEUED, at=T0 + timedelta(seconds=2))
    assert await store.save_task(
        requeued, expected_status=TaskStatus.ASSIGNED, expected_epoch=1, events=[ev2], attempt=lost
    )
    second, ev3, attempt2 = assign(requeued, "w2", T0 + timedelta(seconds=3))
    assert await store.save_task(
        second, expected_status=TaskStatus.QUEUED, expected_epoch=1, events=[ev3], attempt=attempt2
    )
    assert await store.get_current("t1") == (second, attempt2)


async def test_save_task_writes_task_events_attempt_and_result(store: Store) -> None:
    queued = await add(store, make_task())
    assigned, ev1, attempt = assign(queued, "w1", T0 + timedelta(seconds=1))
    ok = await store.save_task(
        assigned, expected_status=TaskStatus.QUEUED, expected_epoch=0, events=[ev1], attempt=attempt
    )
    assert ok
    assert await store.get_task("t1") == assigned
    assert await store.get_attempt("t1", 1) == attempt
    assert await store.get_current("t1") == (assigned, attempt)

    running, ev2 = transition(assigned, TaskStatus.RUNNING, at=T0 + timedelta(seconds=2))
    done, ev3 = transition(
        running, TaskStatus.COMPLETED, at=T0 + timedelta(seconds=9), reason="exit 0", exit_code=0
    )
    finished = dataclasses.replace(
        attempt,
        status=AttemptStatus.SUCCEEDED,
        started_at=ev2.at,
        finished_at=ev3.at,
        exit_code=0,
    )
    result = TaskResult("t1", 1, "w1", TaskStatus.COMPLETED, 0, "exit 0", 2**40, ev3.at)
    ok = await store.save_task(
        done,
        expected_status=TaskStatus.ASSIGNED,
        expected_epoch=1,
        events=[ev2, ev3],
        attempt=finished,
        result=result,
    )
    assert ok
    assert await store.get_task("t1") == done
    assert await store.list_events("t1") == [submitted_event(queued), ev1, ev2, ev3]
    assert await store.list_attempts("t1") == [finished]  # upserted in place
    assert await store.get_result("t1") == result


@pytest.mark.parametrize(
    ("expected_status", "expected_epoch"),
    [(TaskStatus.QUEUED, 1), (TaskStatus.RUNNING, 0)],
    ids=["stale-epoch", "stale-status"],
)
async def test_stale_save_task_returns_false_and_writes_nothing(
    store: Store, expected_status: TaskStatus, expected_epoch: int
) -> None:
    queued = await add(store, make_task())
    assigned, event, attempt = assign(queued, "w1", T0 + timedelta(seconds=1))
    result = TaskResult("t1", 1, "w1", TaskStatus.FAILED, 1, "boom", 0, T0)
    ok = await store.save_task(
        assigned,
        expected_status=expected_status,
        expected_epoch=expected_epoch,
        events=[event],
        attempt=attempt,
        result=result,
    )
    assert not ok
    assert await store.get_task("t1") == queued
    assert await store.list_events("t1") == [submitted_event(queued)]
    assert await store.list_attempts("t1") == []
    assert await store.get_result("t1") is None


async def test_save_task_on_missing_task_returns_false(store: Store) -> None:
    ok = await store.save_task(make_task(), expected_status=TaskStatus.QUEUED, expected_epoch=0)
    assert not ok
    assert await store.get_task("t1") is None


async def test_attempts_by_epoch_and_result_upsert(store: Store) -> None:
    queued = await add(store, make_task())
    first, ev, attempt1 = assign(queued, "w1", T0)
    assert await store.save_task(
        first, expected_status=TaskStatus.QUEUED, expected_epoch=0, events=[ev], attempt=attempt1
    )
    requeued, ev = transition(
        first, TaskStatus.QUEUED, at=T0 + timedelta(seconds=5), reason="lost", worker_id=None
    )
    lost = dataclasses.replace(attempt1, status=AttemptStatus.LOST, reason="worker lost")
    assert await store.save_task(
        requeued, expected_status=TaskStatus.ASSIGNED, expected_epoch=1, events=[ev], attempt=lost
    )
    second, ev, attempt2 = assign(requeued, "w2", T0 + timedelta(seconds=6))
    oom = dataclasses.replace(attempt2, status=AttemptStatus.FAILED, oom_killed=True, exit_code=137)
    r1 = TaskResult("t1", 2, "w2", TaskStatus.FAILED, 137, "oom", 10, T0 + timedelta(seconds=7))
    assert await store.save_task(
        second,
        expected_status=TaskStatus.QUEUED,
        expected_epoch=1,
        events=[ev],
        attempt=oom,
        result=r1,
    )
    assert await store.list_attempts("t1") == [lost, oom]
    assert await store.get_attempt("t1", 2) == oom
    assert await store.get_attempt("t1", 3) is None
    assert await store.get_result("t1") == r1
    assert await store.get_result("other") is None
    assert await store.list_attempts("other") == []
    assert await store.list_events("other") == []

    r2 = dataclasses.replace(r1, exit_code=None, reason="cancelled", status=TaskStatus.CANCELLED)
    assert await store.save_task(
        second, expected_status=TaskStatus.ASSIGNED, expected_epoch=2, result=r2
    )
    assert await store.get_result("t1") == r2


async def test_concurrent_save_task_has_exactly_one_winner(store: Store) -> None:
    queued = await add(store, make_task())
    tries = [assign(queued, f"w{i}", T0 + timedelta(seconds=1)) for i in range(8)]
    outcomes = await asyncio.gather(
        *(
            store.save_task(
                task, expected_status=TaskStatus.QUEUED, expected_epoch=0, events=[ev], attempt=at
            )
            for task, ev, at in tries
        )
    )
    assert outcomes.count(True) == 1
    winner, event, attempt = tries[outcomes.index(True)]
    assert await store.get_task("t1") == winner
    assert await store.list_events("t1") == [submitted_event(queued), event]
    assert await store.list_attempts("t1") == [attempt]


# --------------------------------------------------------------------------- files


async def test_replace_files_is_idempotent_and_exact(store: Store) -> None:
    files = [OutputFile("out/model.bin", 5 * 2**32, "a" * 64), OutputFile("log.txt", 0, "b" * 64)]
    await store.replace_files("t1", files)
    await store.replace_files("t1", files)
    await store.replace_files("t2", [OutputFile("x", 1, "c" * 64)])
    assert await store.list_files("t1") == sorted(files, key=lambda f: f.path)

    fewer = [OutputFile("log.txt", 12, "d" * 64)]
    await store.replace_files("t1", fewer)
    assert await store.list_files("t1") == fewer
    await store.replace_files("t1", [])
    assert await store.list_files("t1") == []
    assert await store.list_files("t2") == [OutputFile("x", 1, "c" * 64)]
