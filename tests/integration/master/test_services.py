"""Master services over a real SQLite store, a fake clock and a fake worker gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cloudai.domain.errors import Conflict, NotFound
from cloudai.domain.resources import Resources
from cloudai.domain.task import (
    Attempt,
    AttemptReport,
    AttemptStatus,
    Task,
    TaskEvent,
    TaskSpec,
    TaskStatus,
)
from cloudai.domain.users import Role, User
from cloudai.domain.workers import Usage, Worker
from cloudai.master.applier import PlanApplier
from cloudai.master.core import CoreOptions, MasterCore, build_core
from cloudai.master.dispatcher import Dispatcher
from cloudai.master.gateway import FakeWorkerGateway
from cloudai.master.lifecycle import Lifecycle
from cloudai.master.registry import WorkerRegistry
from cloudai.master.tasks import TaskFilter, TaskService
from cloudai.ports import FakeClock
from cloudai.store.sql import SqlStore, open_store

SMALL = Resources(cpu=1, memory_gb=0.5, storage_gb=1)
CAPACITY = Resources(cpu=2, memory_gb=4, storage_gb=10)


@dataclass
class Master:
    store: SqlStore
    clock: FakeClock
    gateway: FakeWorkerGateway
    registry: WorkerRegistry
    lifecycle: Lifecycle
    dispatcher: Dispatcher
    tasks: TaskService
    alice: User
    bob: User

    applier: PlanApplier

    async def submit(self, request: Resources = SMALL, **spec: Any) -> Task:
        self.clock.advance(0.001)  # the queue is ordered by submit time
        submitted = await self.tasks.submit(self.alice, TaskSpec("img", "true", request, **spec))
        return submitted.task

    async def schedule(self, *, start: bool = True) -> None:
        """One pass; the assignments are sent, and each worker reports its start (as
        a real worker does once the container runs) unless `start` is False."""
        before = len(self.gateway.assigned)
        await self.dispatcher.schedule_once()
        await self.applier.settle()
        if start:
            for worker_id, task_id, epoch in self.gateway.assigned[before:]:
                await self.lifecycle.started(task_id, epoch, worker_id)

    async def status(self, task_id: str) -> TaskStatus:
        return (await self.tasks.get(self.alice, task_id)).status


@pytest.fixture
async def master(tmp_path: Path) -> AsyncIterator[Master]:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    clock = FakeClock()
    gateway = FakeWorkerGateway()
    core = build_core(store, clock, gateway, CoreOptions(tmp_path, jwt_secret="s" * 32))
    alice = User("u-alice", "a@x.test", "alice", "h", Role.USER, clock.now())
    bob = User("u-bob", "b@x.test", "bob", "h", Role.USER, clock.now())
    yield Master(
        store, clock, gateway, core.registry, core.lifecycle, core.dispatcher, core.tasks,
        alice, bob, core.applier,
    )  # fmt: skip
    await store.close()


async def events_of(tasks: TaskService, user: User, task_id: str) -> list[TaskEvent]:
    events, _ = await tasks.history(await tasks.get(user, task_id))
    return events


async def attempts_of(master: Master, task_id: str) -> list[Attempt]:
    _, attempts = await master.tasks.history(await master.tasks.get(master.alice, task_id))
    return attempts


def report(task: Task, outcome: TaskStatus, exit_code: int | None = 0) -> AttemptReport:
    assert task.worker_id
    return AttemptReport(task.task_id, task.epoch, task.worker_id, outcome, exit_code, "", False, 0)


async def test_placement_runs_and_completion_frees_capacity(master: Master) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    first, second, third = [await master.submit() for _ in range(3)]
    await master.schedule()
    assert [a[1] for a in master.gateway.assigned] == [first.task_id, second.task_id]
    assert await master.status(first.task_id) is TaskStatus.RUNNING
    assert await master.status(third.task_id) is TaskStatus.QUEUED
    assert "cpu exhausted on 1 worker" in (master.dispatcher.pending_reason(third.task_id) or "")

    running = await master.tasks.get(master.alice, first.task_id)
    assert await master.lifecycle.finished(report(running, TaskStatus.COMPLETED))
    await master.schedule()
    assert master.gateway.assigned[-1][1] == third.task_id


async def test_repeated_and_stale_reports_are_no_ops(master: Master) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    task = await master.submit()
    await master.schedule()
    running = await master.tasks.get(master.alice, task.task_id)
    done = report(running, TaskStatus.FAILED, exit_code=3)
    assert await master.lifecycle.finished(done) is not None
    assert await master.lifecycle.finished(done) is None  # repeated
    stale = AttemptReport(task.task_id, 0, "w1", TaskStatus.COMPLETED, 0, "", False, 0)
    assert await master.lifecycle.finished(stale) is None
    final = await master.tasks.get(master.alice, task.task_id)
    assert (final.status, final.exit_code) == (TaskStatus.FAILED, 3)
    events = await events_of(master.tasks, master.alice, task.task_id)
    assert [e.to_status for e in events].count(TaskStatus.FAILED) == 1


async def test_report_from_a_worker_that_does_not_hold_the_attempt_is_ignored(
    master: Master,
) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    task = await master.submit()
    await master.schedule()
    running = await master.tasks.get(master.alice, task.task_id)
    forged = AttemptReport(task.task_id, running.epoch, "w2", TaskStatus.COMPLETED, 0, "", False, 0)
    assert await master.lifecycle.finished(forged) is None
    assert await master.status(task.task_id) is TaskStatus.RUNNING


async def test_unreachable_worker_sends_the_task_back_to_the_queue(master: Master) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    master.gateway.unreachable.add("w1")
    task = await master.submit()
    await master.schedule()
    again = await master.tasks.get(master.alice, task.task_id)
    assert again.status is TaskStatus.QUEUED and again.epoch == 1
    attempts = await attempts_of(master, task.task_id)
    assert [a.status for a in attempts] == [AttemptStatus.REFUSED]


async def test_lost_worker_requeues_its_tasks_and_rejects_its_late_report(
    master: Master,
) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    task = await master.submit()
    await master.schedule()
    first = await master.tasks.get(master.alice, task.task_id)
    master.clock.advance(31)
    await master.registry.register("w2", "127.0.0.1:2", CAPACITY)
    assert await master.registry.check_liveness() == ["w1"]
    await master.dispatcher.worker_lost("w1")
    assert await master.status(task.task_id) is TaskStatus.QUEUED
    await master.schedule()
    second = await master.tasks.get(master.alice, task.task_id)
    assert (second.worker_id, second.epoch) == ("w2", 2)
    assert await master.lifecycle.finished(report(first, TaskStatus.COMPLETED)) is None
    attempts = await attempts_of(master, task.task_id)
    assert [a.status for a in attempts] == [AttemptStatus.LOST, AttemptStatus.RUNNING]


async def test_a_worker_registering_during_a_liveness_check_breaks_nothing(
    master: Master, monkeypatch: pytest.MonkeyPatch
) -> None:
    for worker_id in ("w1", "w2"):
        await master.registry.register(worker_id, "127.0.0.1:1", CAPACITY)
    master.clock.advance(31)
    store, upsert = master.registry._store, master.registry._store.upsert_worker
    joined: list[str] = []

    async def upsert_and_let_one_join(worker: Worker) -> None:
        await upsert(worker)
        if not joined:  # while the check awaits this write, a worker registers
            joined.append("w3")
            await master.registry.register("w3", "127.0.0.1:3", CAPACITY)

    monkeypatch.setattr(store, "upsert_worker", upsert_and_let_one_join)
    assert sorted(await master.registry.check_liveness()) == ["w1", "w2"]
    assert master.registry.get("w3") is not None


async def test_a_heartbeat_is_written_through_at_most_once_a_minute(
    master: Master, monkeypatch: pytest.MonkeyPatch
) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    store = master.registry._store
    writes: list[Worker] = []
    upsert = store.upsert_worker

    async def counted(worker: Worker) -> None:
        writes.append(worker)
        await upsert(worker)

    monkeypatch.setattr(store, "upsert_worker", counted)
    for _ in range(3):  # the first is written, the next two (within a minute) are not
        master.clock.advance(5)
        await master.registry.heartbeat("w1", Usage(cpu=50))
    master.clock.advance(60)
    await master.registry.heartbeat("w1", Usage(cpu=10))
    assert len(writes) == 2
    assert master.registry.get("w1").usage == Usage(cpu=10)  # memory is always current
    stored = {w.worker_id: w for w in await store.list_workers()}["w1"]
    assert stored.last_heartbeat == master.clock.now()


async def test_heartbeat_keeps_a_worker_alive(master: Master) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    master.clock.advance(20)
    await master.registry.heartbeat("w1", Usage(cpu=50))
    master.clock.advance(20)
    assert await master.registry.check_liveness() == []


async def test_cancel_queued_and_running_tasks(master: Master) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    running = await master.submit()
    await master.schedule()
    queued = await master.submit(Resources(cpu=64, memory_gb=1, storage_gb=1))
    assert (await master.tasks.cancel(master.alice, queued.task_id)).status is TaskStatus.CANCELLED
    cancelled = await master.tasks.cancel(master.alice, running.task_id)
    assert cancelled.status is TaskStatus.CANCELLED
    assert master.gateway.cancelled == [("w1", running.task_id, 1)]
    with pytest.raises(Conflict):
        await master.tasks.cancel(master.alice, running.task_id)
    # The attempt's late report changes nothing.
    late = AttemptReport(running.task_id, 1, "w1", TaskStatus.CANCELLED, 143, "", False, 0)
    assert await master.lifecycle.finished(late) is None


async def test_reconcile_kills_attempts_the_master_does_not_own(master: Master) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    task = await master.submit()
    await master.schedule()
    await master.tasks.cancel(master.alice, task.task_id)
    running = [(task.task_id, 1, True), ("task-unknown", 4, True)]
    kill = await master.lifecycle.reconcile("w1", running, grace_s=15)
    assert kill == [(task.task_id, 1), ("task-unknown", 4)]


async def test_reconcile_requeues_settled_attempts_the_worker_does_not_list(
    master: Master,
) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    task = await master.submit()
    await master.schedule()
    # Just assigned: the heartbeat may predate the assignment, so nothing is lost yet.
    assert await master.lifecycle.reconcile("w1", [], grace_s=15) == []
    assert await master.status(task.task_id) is TaskStatus.RUNNING
    master.clock.advance(16)
    await master.lifecycle.reconcile("w1", [], grace_s=15)
    assert await master.status(task.task_id) is TaskStatus.QUEUED
    attempts = await attempts_of(master, task.task_id)
    assert [a.status for a in attempts] == [AttemptStatus.LOST]


async def test_reregistering_worker_keeps_listed_attempts_and_loses_the_rest(
    master: Master,
) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    kept, gone = await master.submit(), await master.submit()
    await master.schedule()
    await master.dispatcher.worker_registered("w1", [(kept.task_id, 1)])
    assert await master.status(kept.task_id) is TaskStatus.RUNNING
    assert await master.status(gone.task_id) is TaskStatus.QUEUED


async def test_other_users_tasks_do_not_exist_for_them(master: Master) -> None:
    task = await master.submit()
    with pytest.raises(NotFound):
        await master.tasks.get(master.bob, task.task_id)
    with pytest.raises(NotFound):
        await master.tasks.cancel(master.bob, task.task_id)
    assert await master.tasks.list_tasks(master.bob, TaskFilter()) == []
    assert [t.task_id for t in await master.tasks.list_tasks(master.alice, TaskFilter())] == [
        task.task_id
    ]


async def test_attempt_keeps_its_own_timeline(master: Master) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    task = await master.submit()
    placed_at = master.clock.now()
    await master.schedule()
    master.clock.advance(5)
    running = await master.tasks.get(master.alice, task.task_id)
    await master.lifecycle.finished(report(running, TaskStatus.COMPLETED))
    (attempt,) = await attempts_of(master, task.task_id)
    assert attempt.assigned_at == placed_at and attempt.started_at == placed_at
    assert attempt.finished_at == placed_at + timedelta(seconds=5)
    assert (attempt.status, attempt.exit_code) == (AttemptStatus.SUCCEEDED, 0)


async def test_cancelling_a_running_task_keeps_the_attempts_start(master: Master) -> None:
    await master.registry.register("w1", "127.0.0.1:1", CAPACITY)
    task = await master.submit()
    await master.schedule()
    master.clock.advance(2)
    await master.tasks.cancel(master.alice, task.task_id)
    (attempt,) = await attempts_of(master, task.task_id)
    assert attempt.status is AttemptStatus.CANCELLED
    assert attempt.started_at is not None and attempt.finished_at is not None
    assert (attempt.finished_at - attempt.started_at).total_seconds() == 2


async def test_a_report_that_overtakes_the_start_still_records_running(tmp_path: Path) -> None:
    """A fast task's completion report can arrive while AssignTask is still returning."""
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'race.sqlite'}")
    core_box: list[MasterCore] = []

    class ReportingGateway(FakeWorkerGateway):
        async def assign(self, worker: Worker, tasks: Sequence[Task]) -> list[str | None]:
            accepted = await super().assign(worker, tasks)
            for task in tasks:
                outcome = AttemptReport(
                    task.task_id, task.epoch, worker.worker_id, TaskStatus.COMPLETED, 0, "",
                    False, 0,
                )  # fmt: skip
                await core_box[0].lifecycle.finished(outcome)
            return accepted

    core = build_core(store, FakeClock(), ReportingGateway(), CoreOptions(tmp_path, "k" * 32))
    core_box.append(core)
    user = User("u-1", "u@x.test", "u", "h", Role.USER, core.clock.now())
    await core.registry.register("w1", "127.0.0.1:1", CAPACITY)
    task = (await core.tasks.submit(user, TaskSpec("img", "true", SMALL))).task
    await core.dispatcher.schedule_once()
    await core.applier.settle()
    events = await events_of(core.tasks, user, task.task_id)
    assert [e.to_status for e in events] == [
        TaskStatus.QUEUED, TaskStatus.ASSIGNED, TaskStatus.RUNNING, TaskStatus.COMPLETED,
    ]  # fmt: skip
    await store.close()
