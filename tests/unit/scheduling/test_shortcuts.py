"""The pass's shortcuts decide exactly what the long way would.

- a request settled in a pass (refused, or fitting no schedulable worker's total) is
  answered from a memo: compared with a pass that forgets every memo and decides each
  task again with a scan of every worker;
- the queue order's in-place heap and per-request charges: compared with the plain
  pop-and-push merge;
- shortage reasons counted over groups of alike workers: compared with one count per
  worker.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import given, settings

from cloudai.domain.resources import Resources
from cloudai.domain.sla import TASK_TYPES
from cloudai.scheduling import reasons
from cloudai.scheduling.capacity import FreeCapacity
from cloudai.scheduling.engine import PlanningPass, Policy
from cloudai.scheduling.ordering import notional_charge, order_queue
from cloudai.scheduling.snapshot import Plan, QueuedTaskView, Snapshot, WorkerView
from tests.unit.scheduling.builders import NOW
from tests.unit.scheduling.test_equivalence import INDEXED, _ScanPolicy
from tests.unit.scheduling.test_properties import snapshots


class _Forgetful(dict[Any, Any]):
    """A memo that stores but never answers: every lookup misses."""

    def get(self, key: Any, default: Any = None) -> Any:
        return default


class _LongWay(PlanningPass):
    """The pass with no per-request memo of settled requests or reach: every task is
    weighed again (reach over every worker's total, then the policy's choice). Only the
    reason first given for a refused request is kept, as the pass promises."""

    def __init__(self, snapshot: Snapshot, policy: Policy) -> None:
        super().__init__(snapshot, policy)
        self.settled = _Forgetful()
        self.reach = _Forgetful()


def assert_shortcuts_change_nothing(snap: Snapshot) -> None:
    for kind, policy in INDEXED.items():
        fast = PlanningPass(snap, policy).run()
        long_way = _LongWay(snap, _ScanPolicy(kind)).run()
        assert fast == long_way, kind
        assert_everyone_accounted_for(snap, fast)


def assert_everyone_accounted_for(snap: Snapshot, plan: Plan) -> None:
    ids = {t.task_id for t in snap.queue}
    placed = {p.task_id for p in plan.placements}
    assert sorted(plan.positions.values()) == list(range(1, len(ids) + 1))
    assert set(plan.positions) == ids
    assert set(plan.pending) == ids - placed


@settings(max_examples=200, deadline=None)
@given(snap=snapshots())
def test_settled_requests_get_the_decision_of_the_long_way(snap: Snapshot) -> None:
    assert_shortcuts_change_nothing(snap)


def crowded(rng: random.Random, *, full: bool) -> Snapshot:
    """Many tasks with few distinct requests on workers partly (or wholly) taken."""
    shapes = [Resources(4, 8, 100, 0), Resources(16, 64, 500, 4), Resources(8, 32, 200, 0)]
    workers = []
    for n in range(rng.randint(1, 12)):
        total = rng.choice(shapes)
        share = 0.0 if full else rng.choice([0.0, 0.1, 0.5, 1.0])
        free = Resources(total.cpu * share, total.memory_gb * share, total.storage_gb * share,
                         int(total.gpu * share))  # fmt: skip
        workers.append(WorkerView(f"w{n}", total, free, rng.random() > 0.15 or n == 0,
                                  cpu_load=rng.random()))  # fmt: skip
    requests = [
        Resources(rng.choice([0.5, 1, 2, 8, 40]), rng.choice([0.5, 4, 16, 100]), 1,
                  rng.choice([0, 0, 1, 4, 8]))
        for _ in range(rng.randint(1, 8))
    ]  # fmt: skip
    targets = [None] * 8 + ["ghost"] + [w.worker_id for w in workers]
    queue = tuple(
        QueuedTaskView(f"t{n}", f"u{rng.randint(0, 3)}", rng.choice(requests),
                       NOW - rng.randint(0, 600), rng.randint(0, 2), rng.choice(TASK_TYPES),
                       rng.choice([1.5, 2.0]), rng.choice(targets))
        for n in range(rng.randint(1, 120))
    )  # fmt: skip
    cap = rng.choice([None, None, 2, 5])
    usage = {f"u{n}": rng.choice([0.0, 50.0]) for n in range(4)}
    return Snapshot(NOW, tuple(workers), queue, (), usage, {}, rng.randint(0, 5), cap)


def test_crowded_passes_get_the_decisions_of_the_long_way() -> None:
    rng = random.Random(20261203)
    for trial in range(150):
        assert_shortcuts_change_nothing(crowded(rng, full=trial % 3 == 0))


def test_with_every_worker_full_each_task_waits_with_its_reason_and_position() -> None:
    rng = random.Random(7)
    snap = crowded(rng, full=True)
    for policy in INDEXED.values():
        plan = PlanningPass(snap, policy).run()
        assert plan.placements == []
        assert_everyone_accounted_for(snap, plan)


def merged_plainly(
    queue: Sequence[QueuedTaskView], usage: Mapping[str, float], tau: Mapping[str, float]
) -> list[QueuedTaskView]:
    """The queue order as first written: per priority, pop the least charged user's
    next task and push them back with the task's charge added."""
    levels: dict[int, dict[str, list[tuple[int, QueuedTaskView]]]] = {}
    for index, task in enumerate(queue):
        levels.setdefault(task.priority, {}).setdefault(task.user_id, []).append((index, task))
    charged = dict(usage)
    ordered = []
    for priority in sorted(levels, reverse=True):
        users = {user: list(reversed(tasks)) for user, tasks in levels[priority].items()}
        heap = [(charged.get(u, 0.0), tasks[-1][0], u) for u, tasks in users.items()]
        heapq.heapify(heap)
        while heap:
            _, _, user = heapq.heappop(heap)
            _, task = users[user].pop()
            ordered.append(task)
            charged[user] = charged.get(user, 0.0) + notional_charge(task, tau)
            if users[user]:
                heapq.heappush(heap, (charged[user], users[user][-1][0], user))
    return ordered


def test_queue_order_equals_the_plain_merge() -> None:
    rng = random.Random(11)
    requests = [Resources(), Resources(1, 0.5, 1, 0), Resources(4, 16, 1, 1), Resources(0.25)]
    for _ in range(300):
        users = [f"u{n}" for n in range(rng.randint(1, 6))]
        queue = [
            QueuedTaskView(f"t{n}", rng.choice(users), rng.choice(requests), NOW,
                           rng.randint(0, 3), rng.choice(TASK_TYPES))
            for n in range(rng.randint(0, 60))
        ]  # fmt: skip
        usage = {u: rng.choice([0.0, 0.0, 3.0, 500.0]) for u in users if rng.random() < 0.7}
        tau = {t: rng.choice([0.0, 1.0, 30.0]) for t in TASK_TYPES if rng.random() < 0.3}
        assert order_queue(queue, usage, tau) == merged_plainly(queue, usage, tau)


def fresh(views: list[WorkerView], placements: int, request: Resources) -> FreeCapacity:
    """Capacity not asked about yet, so its first answer counts each worker apart."""
    capacity = FreeCapacity(views)
    for _ in range(placements):
        capacity.take(0, request)
    return capacity


def test_shortage_counted_over_alike_workers_equals_one_count_per_worker() -> None:
    rng = random.Random(3)
    shapes = [Resources(4, 8, 100, 0), Resources(16, 64, 500, 4)]
    for _ in range(100):
        views = []
        for n in range(rng.randint(1, 30)):
            total = rng.choice(shapes)
            free = Resources(total.cpu * rng.choice([0, 1]), total.memory_gb * rng.choice([0, 1]),
                             total.storage_gb, total.gpu * rng.choice([0, 1]))  # fmt: skip
            views.append(WorkerView(f"w{n}", total, free))
        asks = [Resources(rng.choice([1, 6]), rng.choice([1, 16]), 1, rng.choice([0, 1, 2]))
                for _ in range(4)]  # fmt: skip
        capacity = FreeCapacity(views)
        for placement in range(2):
            # Asked in turn with no placement between: the alike are counted once.
            answers = [reasons.shortage(r, capacity) for r in asks + asks]
            assert capacity.grouped is not None
            assert sum(group[0] for group in capacity.grouped) == len(capacity)
            assert answers == [reasons.shortage(r, fresh(views, placement, asks[0]))
                               for r in asks + asks]  # fmt: skip
            capacity.take(0, asks[0])  # the groups are counted anew after a placement
