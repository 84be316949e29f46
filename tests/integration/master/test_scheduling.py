"""Placement through the master's services: start reports, restarts next to stale
workers, bounded retries, priorities, timeouts, warnings, queue positions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from cloudai.domain.errors import Forbidden, InvalidRequest
from cloudai.domain.resources import Resources
from cloudai.domain.task import AttemptReport, AttemptStatus, Task, TaskSpec, TaskStatus
from cloudai.domain.users import Role, User
from cloudai.domain.workers import Eligibility, Worker
from cloudai.master.core import CoreOptions, MasterCore, build_core
from cloudai.master.gateway import FakeWorkerGateway
from cloudai.ports import FakeClock
from cloudai.scheduling.snapshot import Placement
from cloudai.store.sql import SqlStore, open_store
from tests.integration.store.conftest import fresh_postgres_database

SMALL = Resources(cpu=1, memory_gb=0.5, storage_gb=1)
CAPACITY = Resources(cpu=2, memory_gb=4, storage_gb=10)
ALICE = User("u-alice", "a@x.test", "alice", "h", Role.USER, FakeClock().now())
ADMIN = User("u-admin", "root@x.test", "root", "h", Role.ADMIN, FakeClock().now())


class Cluster:
    def __init__(
        self,
        store: SqlStore,
        tmp_path: Path,
        clock: FakeClock | None = None,
        gateway: FakeWorkerGateway | None = None,
    ) -> None:
        self.clock = clock or FakeClock()
        self.gateway = gateway or FakeWorkerGateway()
        self.core: MasterCore = build_core(
            store, self.clock, self.gateway, CoreOptions(tmp_path, jwt_secret="s" * 32)
        )

    async def submit(self, user: User = ALICE, request: Resources = SMALL, **spec: object) -> str:
        self.clock.advance(0.001)
        task_spec = TaskSpec("img", "true", request, **spec)  # type: ignore[arg-type]
        return (await self.core.tasks.submit(user, task_spec)).task.task_id

    async def schedule(self, *, start: bool = True) -> list[tuple[str, str, int]]:
        before = len(self.gateway.assigned)
        await self.core.dispatcher.schedule_once()
        await self.core.applier.settle()
        sent = self.gateway.assigned[before:]
        if start:
            for worker_id, task_id, epoch in sent:
                await self.core.lifecycle.started(task_id, epoch, worker_id)
        return sent

    async def complete(self, task_id: str) -> None:
        task = await self.core.tasks.get(ADMIN, task_id)
        assert task.worker_id is not None
        done = AttemptReport(
            task_id, task.epoch, task.worker_id, TaskStatus.COMPLETED, 0, "exit code 0", False, 0
        )
        assert await self.core.lifecycle.finished(done) is not None

    async def status(self, task_id: str) -> TaskStatus:
        return (await self.core.tasks.get(ADMIN, task_id)).status


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    yield opened
    await opened.close()


@pytest.fixture
async def cluster(store: SqlStore, tmp_path: Path) -> Cluster:
    return Cluster(store, tmp_path)


async def test_running_only_once_the_worker_reports_the_start(cluster: Cluster) -> None:
    await cluster.core.registry.register("w1", "127.0.0.1:1", CAPACITY)
    task_id = await cluster.submit()
    await cluster.schedule(start=False)
    assert await cluster.status(task_id) is TaskStatus.ASSIGNED
    # A heartbeat listing the attempt as still starting changes nothing...
    assert await cluster.core.lifecycle.reconcile("w1", [(task_id, 1, False)], grace_s=15) == []
    assert await cluster.status(task_id) is TaskStatus.ASSIGNED
    # ...one saying it runs records the start its own report may have missed.
    await cluster.core.lifecycle.reconcile("w1", [(task_id, 1, True)], grace_s=15)
    assert await cluster.status(task_id) is TaskStatus.RUNNING


async def test_restarted_master_places_nothing_on_workers_not_heard_from(
    store: SqlStore, tmp_path: Path
) -> None:
    before = Cluster(store, tmp_path)
    for stale in ("old-1", "old-2"):
        await before.core.registry.register(stale, f"127.0.0.1:{len(stale)}", CAPACITY)
    # The master restarts: the old workers are gone, two new ones join.
    after = Cluster(store, tmp_path, before.clock)
    after.gateway.unreachable |= {"old-1", "old-2"}
    await after.core.registry.load()
    for fresh in ("new-1", "new-2"):
        await after.core.registry.register(fresh, "127.0.0.1:9", CAPACITY)
    task_ids = [await after.submit() for _ in range(100)]
    for _ in range(60):
        for _, task_id, _ in await after.schedule():
            await after.complete(task_id)
        if all([await after.status(t) is TaskStatus.COMPLETED for t in task_ids]):
            break
    assert all([await after.status(t) is TaskStatus.COMPLETED for t in task_ids])
    assert {w for w, _, _ in after.gateway.assigned} == {"new-1", "new-2"}
    for task_id in task_ids:
        _, attempts = await after.core.tasks.history(await after.core.tasks.get(ALICE, task_id))
        assert [a.status for a in attempts] == [AttemptStatus.SUCCEEDED]


async def test_unreachable_worker_turns_suspect_and_costs_no_retry(cluster: Cluster) -> None:
    await cluster.core.registry.register("w1", "127.0.0.1:1", CAPACITY)
    await cluster.core.registry.register("w2", "127.0.0.1:2", CAPACITY)
    cluster.gateway.unreachable.add("w1")
    task_id = await cluster.submit(max_retries=0)
    await cluster.schedule()  # round robin tries w1 first
    task = await cluster.core.tasks.get(ALICE, task_id)
    assert task.status is TaskStatus.QUEUED and task.retries == 0
    assert cluster.core.registry.get("w1").status.value == "suspect"  # type: ignore[union-attr]
    await cluster.schedule()
    task = await cluster.core.tasks.get(ALICE, task_id)
    assert (task.status, task.worker_id) == (TaskStatus.RUNNING, "w2")


class FrozenWorkerGateway(FakeWorkerGateway):
    """Assignments to `frozen` hang until `thaw` is set, as to a SIGSTOPped worker;
    `others_sent` is set once `expected` assignments reached the other workers."""

    def __init__(self, frozen: str, expected: int) -> None:
        super().__init__()
        self.frozen, self.expected = frozen, expected
        self.thaw, self.others_sent = asyncio.Event(), asyncio.Event()

    async def assign(self, worker: Worker, tasks: Sequence[Task]) -> list[str | None]:
        if worker.worker_id == self.frozen:
            await self.thaw.wait()
        accepted = await super().assign(worker, tasks)
        if sum(w != self.frozen for w, _, _ in self.assigned) == self.expected:
            self.others_sent.set()
        return accepted


async def test_a_frozen_worker_never_stalls_assignments_to_the_others(
    store: SqlStore, tmp_path: Path
) -> None:
    gateway = FrozenWorkerGateway("frozen", expected=2)
    cluster = Cluster(store, tmp_path, gateway=gateway)
    for worker_id in ("frozen", "healthy"):
        await cluster.core.registry.register(worker_id, "127.0.0.1:9", CAPACITY)
    tasks = [await cluster.submit() for _ in range(4)]
    await cluster.core.dispatcher.schedule_once()  # claims on both, never waits for sends
    placed = {t: (await cluster.core.tasks.get(ADMIN, t)).worker_id for t in tasks}
    assert sorted(placed.values()) == ["frozen", "frozen", "healthy", "healthy"]
    # Both reach the healthy worker while the frozen one still holds its first.
    await asyncio.wait_for(gateway.others_sent.wait(), 10)
    assert not any(w == "frozen" for w, _, _ in gateway.assigned)
    gateway.thaw.set()
    await cluster.core.applier.settle()
    assert sorted(t for _, t, _ in gateway.assigned) == sorted(tasks)


async def test_a_task_whose_worker_keeps_being_lost_fails_after_its_retries(
    cluster: Cluster,
) -> None:
    task_id = await cluster.submit(max_retries=2)
    for round_ in range(3):
        worker_id = f"w{round_}"
        await cluster.core.registry.register(worker_id, "127.0.0.1:1", CAPACITY)
        await cluster.schedule()
        await cluster.core.dispatcher.worker_lost(worker_id)
    task = await cluster.core.tasks.get(ALICE, task_id)
    assert task.status is TaskStatus.FAILED and task.retries == 2
    assert "no retries left (2 of 2 used)" in task.reason


async def test_priority_orders_the_queue_and_only_admins_raise_it(cluster: Cluster) -> None:
    with pytest.raises(Forbidden):
        await cluster.submit(priority=5)
    low = await cluster.submit(priority=-5)
    normal = await cluster.submit()
    urgent = await cluster.submit(ADMIN, priority=10)
    await cluster.core.registry.register("w1", "127.0.0.1:1", Resources(1, 4, 10))
    await cluster.schedule()
    assert await cluster.status(urgent) is TaskStatus.RUNNING
    dispatcher = cluster.core.dispatcher
    assert (dispatcher.queue_position(normal), dispatcher.queue_position(low)) == (1, 2)
    assert dispatcher.pending_reason(low)


async def test_target_worker_is_respected(cluster: Cluster) -> None:
    await cluster.core.registry.register("w1", "127.0.0.1:1", CAPACITY)
    await cluster.core.registry.register("w2", "127.0.0.1:2", CAPACITY)
    task_id = await cluster.submit(target_worker_id="w2")
    await cluster.schedule()
    assert (await cluster.core.tasks.get(ALICE, task_id)).worker_id == "w2"


async def test_running_past_its_timeout_fails_and_the_worker_is_told(cluster: Cluster) -> None:
    await cluster.core.registry.register("w1", "127.0.0.1:1", CAPACITY)
    task_id = await cluster.submit(timeout_s=5)
    await cluster.schedule()
    cluster.clock.advance(4)
    assert await cluster.core.lifecycle.timed_out() == []
    cluster.clock.advance(2)
    (expired,) = await cluster.core.lifecycle.timed_out()
    assert expired.task_id == task_id
    task = await cluster.core.tasks.get(ALICE, task_id)
    assert task.status is TaskStatus.FAILED and task.reason.startswith("timeout")


async def test_submit_warns_of_an_inferred_type_and_of_no_possible_fit(cluster: Cluster) -> None:
    await cluster.core.registry.register("w1", "127.0.0.1:1", CAPACITY)
    spec = TaskSpec("img", "true", SMALL, tag="memory-light")
    light = await cluster.core.tasks.submit(ALICE, spec)
    assert light.task.task_type == "cpu-light" and light.task.tag == "memory-light"
    assert any("treated as 'cpu-light'" in w for w in light.warnings)
    typed = await cluster.core.tasks.submit(ALICE, TaskSpec("img", "true", SMALL, tag="mixed"))
    assert typed.warnings == []
    huge = await cluster.core.tasks.submit(ALICE, TaskSpec("img", "true", Resources(64, 1, 1)))
    assert any("no registered worker could ever fit" in w for w in huge.warnings)
    await cluster.schedule()
    reason = cluster.core.dispatcher.pending_reason(huge.task.task_id) or ""
    assert "could ever fit" in reason


async def test_completion_records_whether_the_deadline_was_met(cluster: Cluster) -> None:
    await cluster.core.registry.register("w1", "127.0.0.1:1", CAPACITY)
    on_time = await cluster.submit(tag="cpu-light", k_value=2.0)  # deadline: 10 s
    late = await cluster.submit(tag="cpu-light", k_value=2.0)
    await cluster.schedule()
    await cluster.complete(on_time)
    cluster.clock.advance(30)
    await cluster.complete(late)
    assert (await cluster.core.tasks.get(ALICE, on_time)).sla_met is True
    assert (await cluster.core.tasks.get(ALICE, late)).sla_met is False


async def test_the_scheduler_can_be_switched_at_run_time(cluster: Cluster) -> None:
    dispatcher = cluster.core.dispatcher
    assert dispatcher.scheduler == "round_robin"
    dispatcher.use("best_fit")
    assert dispatcher.scheduler == "best_fit"
    with pytest.raises(InvalidRequest):
        dispatcher.use("fastest")
    assert set(dispatcher.names()) == {"round_robin", "best_fit", "spread", "rts", "agent"}


async def test_draining_and_cordoned_workers_take_nothing_new(cluster: Cluster) -> None:
    registry = cluster.core.registry
    await registry.register("w1", "127.0.0.1:1", CAPACITY)
    await registry.register("w2", "127.0.0.1:2", CAPACITY)
    kept = await cluster.submit(target_worker_id="w1")
    await cluster.schedule()
    await registry.set_eligibility("w1", Eligibility.DRAINING)
    await registry.set_eligibility("w2", Eligibility.CORDONED)
    waiting = await cluster.submit()
    await cluster.schedule()
    assert await cluster.status(kept) is TaskStatus.RUNNING  # it keeps what it runs
    assert await cluster.status(waiting) is TaskStatus.QUEUED
    assert cluster.core.dispatcher.pending_reason(waiting)
    # Re-registering (a worker restart) keeps the operator's choice.
    await registry.register("w2", "127.0.0.1:2", CAPACITY)
    assert registry.get("w2").eligibility is Eligibility.CORDONED  # type: ignore[union-attr]
    await registry.set_eligibility("w2", Eligibility.OPEN)
    await cluster.schedule()
    assert (await cluster.core.tasks.get(ALICE, waiting)).worker_id == "w2"


async def test_two_masters_plan_appliers_racing_on_postgres_never_overbook(
    tmp_path: Path,
) -> None:
    """Two master cores (each its own store and sessions) on one PostgreSQL database both
    propose every queued task for the same worker; their appliers together never hold
    more than the worker has, round after round."""
    async with fresh_postgres_database() as url:
        stores = [await open_store(url), await open_store(url)]
        try:
            one, two = (Cluster(s, tmp_path / f"m{i}") for i, s in enumerate(stores))
            for round_ in range(10):
                worker_id, cpu = f"w{round_}", 1 + round_ % 3
                capacity = Resources(cpu=cpu, memory_gb=64, storage_gb=100)
                for core in (one.core, two.core):
                    await core.registry.register(worker_id, "127.0.0.1:9", capacity)
                tasks = [await one.submit() for _ in range(6)]
                proposals = [Placement(t, worker_id) for t in tasks]
                results = await asyncio.gather(
                    one.core.applier.apply(proposals, by="test"),
                    two.core.applier.apply(proposals[::-1], by="test"),
                )
                placed = sum(a.placed for applied in results for a in applied)
                held = [await one.status(t) for t in tasks]
                assert placed == cpu, f"round {round_}: {placed} placed on {cpu} CPU"
                assert held.count(TaskStatus.ASSIGNED) == cpu
                refused = [a.reason for applied in results for a in applied if not a.placed]
                assert all(refused), "every refused placement says why"
                for core in (one.core, two.core):
                    await core.applier.settle()
        finally:
            for opened in stores:
                await opened.close()


async def test_tasks_no_worker_could_ever_fit_are_left_out_of_passes_with_their_reason(
    cluster: Cluster,
) -> None:
    await cluster.core.registry.register("w1", "127.0.0.1:1", CAPACITY)
    huge = Resources(cpu=64, memory_gb=0.5, storage_gb=1)
    unfit = [await cluster.submit(request=huge) for _ in range(3)]
    pinned = await cluster.submit(request=huge, target_worker_id="w1")
    fits = await cluster.submit()
    snapshot = await cluster.core.dispatcher.snapshot()
    assert [t.task_id for t in snapshot.queue] == [pinned, fits]
    assert [(w.worker_id, w.free) for w in snapshot.workers] == [("w1", CAPACITY)]
    assert await cluster.schedule() == [("w1", fits, 1)]
    dispatcher = cluster.core.dispatcher
    for task_id in unfit:
        reason = dispatcher.pending_reason(task_id)
        assert reason is not None and reason.startswith("no registered worker could ever fit")
    # They queue behind what the pass considered (the pinned task; the placed one left).
    assert dispatcher.queue_position(pinned) == 1
    assert [dispatcher.queue_position(t) for t in unfit] == [2, 3, 4]
    assert "target worker w1" in (dispatcher.pending_reason(pinned) or "")
    # A worker big enough joins: the left-out tasks are planned (and placed) again.
    await cluster.core.registry.register("big", "127.0.0.1:2", Resources(256, 64, 100))
    placed = await cluster.schedule()
    assert sorted(t for _, t, _ in placed) == sorted(unfit)
    assert {w for w, _, _ in placed} == {"big"}


async def test_tasks_pinned_to_an_absent_worker_are_left_out_until_it_joins(
    cluster: Cluster,
) -> None:
    await cluster.core.registry.register("w1", "127.0.0.1:1", CAPACITY)
    waiting = [await cluster.submit(target_worker_id="later") for _ in range(2)]
    fits = await cluster.submit()
    snapshot = await cluster.core.dispatcher.snapshot()
    assert [t.task_id for t in snapshot.queue] == [fits]  # no pass weighs the pinned ones
    assert snapshot.absent_targets == frozenset({"later"})
    assert await cluster.schedule() == [("w1", fits, 1)]
    dispatcher = cluster.core.dispatcher
    for position, task_id in enumerate(waiting, start=1):
        assert dispatcher.pending_reason(task_id) == "target worker later is not registered"
        assert dispatcher.queue_position(task_id) == position
    # The worker joins: its tasks are planned again, and placed on it.
    await cluster.core.registry.register("later", "127.0.0.1:2", CAPACITY)
    placed = await cluster.schedule()
    assert sorted(t for _, t, _ in placed) == sorted(waiting)
    assert {w for w, _, _ in placed} == {"later"}


class PickyWorkerGateway(FakeWorkerGateway):
    """Takes every task of a batch but those in `refused`, and notes each call's size."""

    def __init__(self, refused: set[str]) -> None:
        super().__init__()
        self.refused, self.calls = refused, list[int]()

    async def assign(self, worker: Worker, tasks: Sequence[Task]) -> list[str | None]:
        self.calls.append(len(tasks))
        taken = [t for t in tasks if t.task_id not in self.refused]
        await super().assign(worker, taken)
        return [("no GPU free" if t.task_id in self.refused else None) for t in tasks]


async def test_a_pass_sends_a_worker_its_tasks_in_one_call_and_a_refusal_ends_only_its_task(
    store: SqlStore, tmp_path: Path
) -> None:
    gateway = PickyWorkerGateway(refused=set())
    cluster = Cluster(store, tmp_path, gateway=gateway)
    await cluster.core.registry.register("w1", "127.0.0.1:1", Resources(8, 8, 80))
    tasks_ids = [await cluster.submit(max_retries=0) for _ in range(5)]
    gateway.refused.add(tasks_ids[2])
    await cluster.schedule(start=False)
    assert sum(gateway.calls) == 5 and len(gateway.calls) < 5  # batched
    statuses = [await cluster.status(t) for t in tasks_ids]
    assert [s for n, s in enumerate(statuses) if n != 2] == [TaskStatus.ASSIGNED] * 4
    task = await cluster.core.tasks.get(ALICE, tasks_ids[2])
    assert task.status is TaskStatus.QUEUED and task.retries == 0  # nothing ran
    _, attempts = await cluster.core.tasks.history(task)
    assert "no GPU free" in attempts[0].reason
