"""Properties every policy keeps, over generated snapshots."""

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudai.domain.resources import Resources
from cloudai.domain.sla import TASK_TYPES
from cloudai.scheduling.registry import SCHEDULER_NAMES, make_scheduler
from cloudai.scheduling.snapshot import (
    Plan,
    QueuedTaskView,
    RunningView,
    Snapshot,
    WorkerView,
)
from tests.unit.scheduling.builders import NOW, used_per_worker

USERS = ("u1", "u2", "u3")
CAP_REASON = "user running-task limit reached"


def dominates(big: Resources, small: Resources) -> bool:
    """True when `big` asks at least as much as `small` on every dimension."""
    return small.fits_in(big)


@st.composite
def resources(draw: st.DrawFn, *, scale: float = 1.0) -> Resources:
    return Resources(
        cpu=draw(st.sampled_from([0, 0.25, 0.5, 1, 2, 4])) * scale,
        memory_gb=draw(st.sampled_from([0, 0.5, 1, 4])) * scale,
        storage_gb=draw(st.sampled_from([0, 1, 5])) * scale,
        gpu=draw(st.sampled_from([0, 0, 0, 1])) * int(scale),
    )


@st.composite
def workers(draw: st.DrawFn) -> list[WorkerView]:
    count = draw(st.integers(0, 6))
    views = []
    for n in range(count):
        total = draw(resources(scale=2.0))
        share = draw(st.sampled_from([0.0, 0.25, 0.5, 1.0]))
        free = Resources(total.cpu * share, total.memory_gb * share, total.storage_gb * share,
                         int(total.gpu * share))  # fmt: skip
        load = draw(st.floats(0, 1))
        views.append(WorkerView(f"w{n}", total, free, draw(st.booleans()) or n == 0,
                                cpu_load=load, memory_load=load / 2))  # fmt: skip
    return views


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    views = draw(workers())
    targets = [None, None, None, "ghost"] + [w.worker_id for w in views]
    queue = [
        QueuedTaskView(
            task_id=f"t{n}",
            user_id=draw(st.sampled_from(USERS)),
            request=draw(resources()),
            submitted_at=NOW - draw(st.integers(0, 120)),
            priority=draw(st.integers(0, 3)),
            task_type=draw(st.sampled_from(TASK_TYPES)),
            k_value=draw(st.sampled_from([1.0, 2.0, 3.0])),
            target_worker_id=draw(st.sampled_from(targets)),
        )
        for n in range(draw(st.integers(0, 15)))
    ]
    running = [
        RunningView(f"r{n}", w.worker_id, draw(st.sampled_from(USERS)), draw(resources()),
                    NOW - draw(st.integers(0, 100)), draw(st.sampled_from(TASK_TYPES)))
        for n, w in enumerate(draw(st.lists(st.sampled_from(views), max_size=4)) if views else [])
    ]  # fmt: skip
    usage = {user: draw(st.sampled_from([0.0, 10.0, 1000.0])) for user in USERS}
    cap = draw(st.sampled_from([None, None, 1, 2, 3]))
    cursor = draw(st.integers(0, 10))
    return Snapshot(NOW, tuple(views), tuple(queue), tuple(running), usage, {}, cursor, cap)


def check_capacity(snap: Snapshot, plan: Plan) -> None:
    views = {w.worker_id: w for w in snap.workers}
    for worker_id, used in used_per_worker(snap, plan).items():
        assert views[worker_id].schedulable
        assert used.fits_in(views[worker_id].free), (worker_id, used)


def check_accounting(snap: Snapshot, plan: Plan) -> None:
    queued = [t.task_id for t in snap.queue]
    placed = [p.task_id for p in plan.placements]
    assert len(placed) == len(set(placed))
    assert set(placed).isdisjoint(plan.pending)
    assert set(placed) | set(plan.pending) == set(queued)
    assert all(plan.pending.values())
    assert sorted(plan.positions) == sorted(queued)
    assert sorted(plan.positions.values()) == list(range(1, len(queued) + 1))
    by_id = {t.task_id: t for t in snap.queue}
    for p in plan.placements:
        target = by_id[p.task_id].target_worker_id
        assert target in (None, p.worker_id)


def check_priority(snap: Snapshot, plan: Plan) -> None:
    """No task waits while a lower-priority task asking at least as much on every
    dimension was placed where the waiting one could have gone."""
    by_id = {t.task_id: t for t in snap.queue}
    placed = [(by_id[p.task_id], p.worker_id) for p in plan.placements]
    for task_id, reason in plan.pending.items():
        high = by_id[task_id]
        if reason.startswith(CAP_REASON):
            continue
        for low, worker_id in placed:
            if low.priority < high.priority and high.target_worker_id in (None, worker_id):
                assert not dominates(low.request, high.request), (high, low, reason)
    order = sorted(snap.queue, key=lambda t: plan.positions[t.task_id])
    priorities = [t.priority for t in order]
    assert priorities == sorted(priorities, reverse=True)


def check_limits(snap: Snapshot, plan: Plan) -> None:
    assert len(plan.reservations) <= 1
    schedulable = {w.worker_id for w in snap.workers if w.schedulable}
    for task_id, worker_id in plan.reservations.items():
        assert task_id in plan.pending and worker_id in schedulable
    if snap.max_running_per_user is None:
        return
    before = Counter(r.user_id for r in snap.running)
    by_id = {t.task_id: t for t in snap.queue}
    after = before + Counter(by_id[p.task_id].user_id for p in plan.placements)
    for user, count in after.items():
        assert count <= max(snap.max_running_per_user, before[user])


# One generated snapshot is checked against every policy (generation is the slow part).
@settings(max_examples=400, deadline=None)
@given(snap=snapshots())
def test_every_policy_keeps_the_invariants(snap: Snapshot) -> None:
    for policy in SCHEDULER_NAMES:
        plan = make_scheduler(policy).plan(snap)
        try:
            check_capacity(snap, plan)
            check_accounting(snap, plan)
            check_priority(snap, plan)
            check_limits(snap, plan)
        except AssertionError as error:
            raise AssertionError(f"policy {policy}: {error}") from error
        assert make_scheduler(policy).plan(snap) == plan, f"{policy} is not deterministic"
