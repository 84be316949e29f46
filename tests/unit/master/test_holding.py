"""What the index keeps of holding tasks for a pass: kept current change by change, it
must equal what deriving it from every holding task gives."""

from __future__ import annotations

import dataclasses
import random

from cloudai.domain.resources import Resources
from cloudai.domain.task import Task, TaskStatus
from cloudai.master.holding import Holding, running_view
from tests.unit.master.test_task_index import AT, task


def _on(t: Task, worker: str | None, status: TaskStatus, cpu: float = 0.1) -> Task:
    started = AT if status is TaskStatus.RUNNING else None
    return dataclasses.replace(t, worker_id=worker, status=status, started_at=started,
                               request=Resources(cpu=cpu, memory_gb=0.3))  # fmt: skip


def _derived(tasks: dict[str, Task], worker: str) -> Resources:
    held = [t.request for t in tasks.values() if t.worker_id == worker]
    return sum(held, Resources())


def test_kept_sums_views_and_starts_match_the_tasks_after_many_changes() -> None:
    rng = random.Random(7)
    holding, alive = Holding(), dict[str, Task]()
    for step in range(3000):
        task_id = f"t{rng.randrange(200)}"
        if rng.random() < 0.3:
            holding.drop(task_id)
            alive.pop(task_id, None)
            continue
        status = rng.choice([TaskStatus.ASSIGNED, TaskStatus.RUNNING])
        worker = rng.choice(["w1", "w2", None])
        changed = _on(task(task_id), worker, status, cpu=rng.choice([0.01, 0.1, 1.5]))
        holding.put(changed)
        alive[task_id] = changed
        if step % 500 == 0:
            for w in ("w1", "w2"):
                used, derived = holding.used(w), _derived(alive, w)
                assert abs(used.cpu - derived.cpu) < 1e-9
                assert abs(used.memory_gb - derived.memory_gb) < 1e-9
    on_worker = {running_view(t) for t in alive.values() if t.worker_id}
    assert set(holding.views()) == on_worker and len(holding.views()) == len(on_worker)
    running = {t.task_id for t in alive.values() if t.status is TaskStatus.RUNNING}
    assert {t.task_id for t in holding.started()} == running
    assert {t.task_id for t in holding.tasks()} == set(alive)


def test_a_worker_left_with_nothing_holds_exactly_nothing() -> None:
    holding = Holding()
    for n in range(10):
        holding.put(_on(task(f"t{n}"), "w1", TaskStatus.ASSIGNED, cpu=0.1))
    for n in range(10):
        holding.drop(f"t{n}")
    assert holding.used("w1") == Resources()


def test_a_task_that_moves_to_another_worker_moves_its_request() -> None:
    holding = Holding([_on(task("a"), "w1", TaskStatus.ASSIGNED, cpu=2)])
    holding.put(_on(task("a"), "w2", TaskStatus.RUNNING, cpu=2))
    assert holding.used("w1") == Resources()
    assert holding.used("w2").cpu == 2
    holding.drop("a")
    holding.drop("a")  # twice: nothing more to release
    assert holding.used("w2") == Resources() and holding.views() == ()
