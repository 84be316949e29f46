"""The registry hands out one copy of each worker until the worker changes, and the
snapshot's worker views follow every change: usage, eligibility, what it holds, who is
registered."""

from __future__ import annotations

import dataclasses

from cloudai.domain.resources import Resources
from cloudai.domain.task import TaskStatus
from cloudai.domain.workers import Eligibility, Usage
from cloudai.master.accounting import Accounting
from cloudai.master.registry import WorkerRegistry
from cloudai.master.snapshot import SnapshotBuilder
from cloudai.master.task_index import TaskIndex
from cloudai.ports import FakeClock
from cloudai.store.memory import InMemoryStore
from tests.unit.master.test_task_index import task

TOTAL = Resources(cpu=4, memory_gb=8, storage_gb=10)


def _registry() -> WorkerRegistry:
    return WorkerRegistry(InMemoryStore(), FakeClock(), suspect_after_s=15, lost_after_s=30)


async def test_a_copy_stands_until_its_worker_changes() -> None:
    registry = _registry()
    await registry.register("w2", "127.0.0.1:2", TOTAL)
    await registry.register("w1", "127.0.0.1:1", TOTAL)
    first = registry.all()
    assert [w.worker_id for w in first] == ["w1", "w2"]
    assert registry.all()[0] is first[0]  # unchanged: the same copy
    await registry.heartbeat("w1", Usage(cpu=50.0))
    again = registry.all()
    assert again[0] is not first[0] and again[0].usage.cpu == 50.0
    assert first[0].usage.cpu == 0.0  # a copy handed out never changes
    assert again[1] is first[1]
    await registry.remove("w2")
    assert [w.worker_id for w in registry.all()] == ["w1"]
    assert registry.get("w2") is None


async def test_worker_views_follow_usage_eligibility_and_what_is_held() -> None:
    registry, index = _registry(), TaskIndex()
    accounting = Accounting(FakeClock(), half_life_s=600)
    builder = SnapshotBuilder(InMemoryStore(), FakeClock(), registry, index, accounting)
    await registry.register("w1", "127.0.0.1:1", TOTAL)

    async def view() -> tuple[float, bool, float]:
        (only,) = (await builder.build()).workers
        return only.free.cpu, only.schedulable, only.cpu_load

    assert await view() == (4.0, True, 0.0)
    await registry.heartbeat("w1", Usage(cpu=25.0))
    assert await view() == (4.0, True, 0.25)
    held = dataclasses.replace(task("t1"), status=TaskStatus.RUNNING, worker_id="w1")
    index.record(held)
    assert await view() == (3.0, True, 0.25)
    await registry.set_eligibility("w1", Eligibility.CORDONED)
    assert await view() == (3.0, False, 0.25)
    index.record(dataclasses.replace(held, status=TaskStatus.COMPLETED))
    assert await view() == (4.0, False, 0.25)


async def test_capacities_follow_joins_losses_returns_and_removals() -> None:
    clock = FakeClock()
    registry = WorkerRegistry(InMemoryStore(), clock, suspect_after_s=15, lost_after_s=30)
    big = Resources(cpu=64, memory_gb=256, storage_gb=10)
    await registry.register("w1", "127.0.0.1:1", TOTAL)
    await registry.register("w2", "127.0.0.1:2", TOTAL)
    assert registry.capacities() == {TOTAL}  # one shape for alike workers
    await registry.register("w3", "127.0.0.1:3", big)
    assert registry.capacities() == {TOTAL, big}
    clock.advance(20)
    await registry.heartbeat("w1", Usage())
    await registry.heartbeat("w2", Usage())
    clock.advance(20)
    assert await registry.check_liveness() == ["w3"]
    assert registry.capacities() == {TOTAL}  # w3 is lost: its shape is gone
    await registry.heartbeat("w3", Usage())
    assert registry.capacities() == {TOTAL, big}  # back
    await registry.remove("w3")
    assert registry.capacities() == {TOTAL}
