"""The indexed policies choose exactly what a plain scan of every worker would."""

from __future__ import annotations

import random

from hypothesis import given, settings

from cloudai.domain.resources import Resources
from cloudai.domain.sla import DEFAULT_TAU, resource_weight
from cloudai.scheduling.capacity import FreeCapacity
from cloudai.scheduling.engine import Chooser, Policy, PolicyScheduler
from cloudai.scheduling.policies import BestFit, RoundRobin, Spread
from cloudai.scheduling.rts import Rts, RtsParams, _RtsPass
from cloudai.scheduling.snapshot import QueuedTaskView, Snapshot, WorkerView
from tests.unit.scheduling.builders import NOW
from tests.unit.scheduling.test_properties import snapshots


class _Scan:
    """Every unreserved fitting worker, scored by `score`; the least score wins."""

    def __init__(self, snapshot: Snapshot, capacity: FreeCapacity, kind: str) -> None:
        self.snapshot, self.capacity, self.kind = snapshot, capacity, kind
        self.next = 0
        self.next_cursor = snapshot.cursor
        if snapshot.workers:
            start = snapshot.cursor % len(snapshot.workers)
            self.next = sum(1 for p in capacity.positions if p < start)
        self.rts = _RtsPass(snapshot, capacity, RtsParams()) if kind == "rts" else None

    def score(self, i: int, task: QueuedTaskView) -> tuple[float, ...]:
        c = self.capacity
        weight = c.cpu[i] + c.memory[i] / 4 + 8 * c.gpu[i]
        if self.kind == "round_robin":
            return ((i - self.next) % len(c),)
        if self.kind == "best_fit":
            return (c.gpu[i], weight, i)
        if self.kind == "spread":
            total = resource_weight(c.totals[i])
            return (1 - weight / total if total > 0 else 1.0, i)
        assert self.rts is not None
        return (self._risk(i, task), self.rts.load[i], i)

    def _risk(self, i: int, task: QueuedTaskView) -> float:
        assert self.rts is not None
        c, r, load = self.capacity, task.request, self.rts.load[i]
        tau = DEFAULT_TAU[task.task_type]
        asked = ((r.cpu, c.cpu[i]), (r.memory_gb, c.memory[i]), (r.gpu, c.gpu[i]))
        share = [0.0 if n <= 0 else 1.0 if f <= 0 else min(n / f, 1.0) for n, f in asked]
        predicted = tau * (1 + 0.1 * share[0] + 0.1 * share[1] + 0.3 * share[2] + 0.2 * load)
        time_left = task.submitted_at + task.k_value * tau - self.snapshot.now
        return 10 * max(0.0, predicted - time_left) + load

    def choose(self, task: QueuedTaskView) -> int | None:
        c, r = self.capacity, task.request
        fits = [i for i in range(len(c)) if i != c.reserved and c.fits(i, r)]
        return min(fits, key=lambda i: self.score(i, task)) if fits else None

    def placed(self, index: int, task: QueuedTaskView) -> None:
        if self.rts is not None:
            self.rts.placed(index, task)
        if task.target_worker_id is None:
            self.next = index + 1
            self.next_cursor = self.capacity.positions[index] + 1

    def cursor(self) -> int:
        return self.next_cursor if self.kind == "round_robin" else self.snapshot.cursor


class _ScanPolicy:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def start(self, snapshot: Snapshot, capacity: FreeCapacity) -> Chooser:
        return _Scan(snapshot, capacity, self.kind)


INDEXED: dict[str, Policy] = {
    "round_robin": RoundRobin(),
    "best_fit": BestFit(),
    "spread": Spread(),
    "rts": Rts(),
}


def assert_same_plans(snap: Snapshot) -> None:
    for kind, policy in INDEXED.items():
        indexed = PolicyScheduler(kind, policy).plan(snap)
        scanned = PolicyScheduler(kind, _ScanPolicy(kind)).plan(snap)
        assert indexed == scanned, kind


@settings(max_examples=200, deadline=None)
@given(snap=snapshots())
def test_indexed_choices_equal_a_full_scan(snap: Snapshot) -> None:
    assert_same_plans(snap)


def test_many_distinct_requests_fall_back_to_scans_with_the_same_choices() -> None:
    rng = random.Random(5)
    workers = tuple(
        WorkerView(f"w{n}", total, total, cpu_load=rng.random())
        for n, total in enumerate(
            Resources(rng.choice([4, 8, 16]), rng.choice([8, 32]), 100, rng.choice([0, 0, 2]))
            for _ in range(40)
        )
    )
    queue = tuple(
        QueuedTaskView(
            task_id=f"t{n}",
            user_id=f"u{n % 3}",
            request=Resources(
                rng.randint(1, 40) / 8, rng.randint(1, 64) / 8, 1, rng.choice([0, 0, 0, 1])
            ),
            submitted_at=NOW - rng.randint(0, 60),
            priority=rng.randint(0, 2),
        )
        for n in range(400)
    )
    assert len({t.request for t in queue}) > 200
    assert_same_plans(Snapshot(NOW, workers, queue))
