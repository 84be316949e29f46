"""What each policy chooses among the workers a task fits on."""

import pytest

from cloudai.scheduling.registry import SCHEDULER_NAMES, make_scheduler
from cloudai.scheduling.rts import RtsParams
from cloudai.scheduling.snapshot import Placement
from tests.unit.scheduling.builders import NOW, placed_on, res, snapshot, task, worker

# round_robin


def test_round_robin_rotates_over_fitting_workers() -> None:
    result = make_scheduler("round_robin").plan(
        snapshot([worker("a"), worker("b")], [task("1"), task("2"), task("3")])
    )
    assert result.placements == [Placement("1", "a"), Placement("2", "b"), Placement("3", "a")]
    assert result.cursor == 1


def test_round_robin_continues_from_the_cursor_and_skips_unschedulable_workers() -> None:
    workers = [worker("a"), worker("b", schedulable=False), worker("c")]
    result = make_scheduler("round_robin").plan(snapshot(workers, [task("1"), task("2")], cursor=1))
    assert placed_on(result) == {"1": "c", "2": "a"}
    assert result.cursor == 1


def test_round_robin_cursor_wraps_when_workers_left() -> None:
    result = make_scheduler("round_robin").plan(
        snapshot([worker("a"), worker("b")], [task("1")], cursor=7)
    )
    assert placed_on(result) == {"1": "b"}


def test_round_robin_skips_workers_the_task_does_not_fit() -> None:
    workers = [worker("a", free=res(0.5, 8, 100)), worker("b"), worker("c")]
    result = make_scheduler("round_robin").plan(snapshot(workers, [task("1")]))
    assert placed_on(result) == {"1": "b"}
    assert result.cursor == 2


def test_round_robin_keeps_the_cursor_for_pinned_tasks_and_when_nothing_is_placed() -> None:
    rr = make_scheduler("round_robin")
    assert (
        rr.plan(snapshot([worker("a"), worker("b")], [task("1", target="b")], cursor=0)).cursor == 0
    )
    assert rr.plan(snapshot([worker("a")], [task("1", cpu=9)], cursor=5)).cursor == 5


# best_fit


def test_best_fit_picks_the_worker_left_with_least_free_capacity() -> None:
    workers = [worker("roomy", cpu=16), worker("snug", cpu=3), worker("tiny", cpu=1)]
    result = make_scheduler("best_fit").plan(snapshot(workers, [task("1", cpu=2)]))
    assert placed_on(result) == {"1": "snug"}


def test_best_fit_packs_a_worker_before_opening_another() -> None:
    workers = [worker("a", cpu=4), worker("b", cpu=4)]
    result = make_scheduler("best_fit").plan(snapshot(workers, [task(str(i)) for i in range(5)]))
    assert [p.worker_id for p in result.placements] == ["a", "a", "a", "a", "b"]


def test_best_fit_keeps_gpu_workers_for_gpu_tasks() -> None:
    workers = [worker("gpu", cpu=2, memory_gb=2, gpu=1), worker("cpu", cpu=16, memory_gb=64)]
    result = make_scheduler("best_fit").plan(snapshot(workers, [task("c"), task("g", gpu=1)]))
    assert placed_on(result) == {"c": "cpu", "g": "gpu"}


def test_best_fit_skips_a_snug_worker_short_on_another_dimension() -> None:
    workers = [worker("snug", cpu=2, free=res(2, 0.1, 100)), worker("roomy", cpu=8)]
    result = make_scheduler("best_fit").plan(snapshot(workers, [task("1", cpu=2)]))
    assert placed_on(result) == {"1": "roomy"}


# spread


def test_spread_picks_the_least_allocated_worker() -> None:
    workers = [
        worker("half", cpu=16, memory_gb=8, free=res(8, 4, 100)),
        worker("quarter", cpu=4, memory_gb=8, free=res(3, 6, 100)),
    ]
    result = make_scheduler("spread").plan(snapshot(workers, [task("1")]))
    assert placed_on(result) == {"1": "quarter"}


def test_spread_balances_tasks_across_equal_workers() -> None:
    workers = [worker("a"), worker("b"), worker("c")]
    result = make_scheduler("spread").plan(snapshot(workers, [task(str(i)) for i in range(6)]))
    counts = {w: list(placed_on(result).values()).count(w) for w in "abc"}
    assert counts == {"a": 2, "b": 2, "c": 2}


# rts


def test_rts_prefers_the_least_loaded_worker_when_deadlines_are_safe() -> None:
    workers = [worker("busy", cpu_load=0.9), worker("idle", cpu_load=0.1)]
    result = make_scheduler("rts").plan(snapshot(workers, [task("1", k=100)]))
    assert placed_on(result) == {"1": "idle"}


def test_rts_counts_the_deadline_from_submission() -> None:
    # "small" is a bit less loaded but the task would take all it has free; "roomy" is a
    # bit busier but the task takes a small share of it, so it should run faster there.
    workers = [
        worker("roomy", cpu=16, cpu_load=0.5, free=res(16, 8, 100)),
        worker("small", cpu=16, cpu_load=0.4, free=res(1, 8, 100)),
    ]
    fresh = task("fresh", k=100, submitted_at=NOW)
    overdue = task("overdue", k=2, submitted_at=NOW - 600)
    rts = make_scheduler("rts")
    assert placed_on(rts.plan(snapshot(workers, [fresh]))) == {"fresh": "small"}
    assert placed_on(rts.plan(snapshot(workers, [overdue]))) == {"overdue": "roomy"}


def test_rts_uses_the_tasks_own_k() -> None:
    workers = [
        worker("roomy", cpu=16, cpu_load=0.5, free=res(16, 8, 100)),
        worker("small", cpu=16, cpu_load=0.4, free=res(1, 8, 100)),
    ]
    # cpu-light τ 5 s, submitted 10 s ago: k = 3 leaves 5 s, about the predicted runtime.
    tight = task("tight", k=3.0, submitted_at=NOW - 10)
    loose = task("loose", k=30.0, submitted_at=NOW - 10)
    rts = make_scheduler("rts")
    assert placed_on(rts.plan(snapshot(workers, [tight]))) == {"tight": "roomy"}
    assert placed_on(rts.plan(snapshot(workers, [loose]))) == {"loose": "small"}


def test_rts_counts_its_own_placements_as_load_within_a_pass() -> None:
    workers = [worker("a", cpu=4), worker("b", cpu=4)]
    result = make_scheduler("rts").plan(snapshot(workers, [task(str(i)) for i in range(4)]))
    counts = {w: list(placed_on(result).values()).count(w) for w in "ab"}
    assert counts == {"a": 2, "b": 2}


def test_rts_with_only_load_weight_ignores_deadlines() -> None:
    workers = [
        worker("roomy", cpu=16, cpu_load=0.5, free=res(16, 8, 100)),
        worker("small", cpu=16, cpu_load=0.4, free=res(1, 8, 100)),
    ]
    params = RtsParams(alpha=0.0)
    overdue = task("overdue", k=2, submitted_at=NOW - 600)
    result = make_scheduler("rts", rts=params).plan(snapshot(workers, [overdue]))
    assert placed_on(result) == {"overdue": "small"}


@pytest.mark.parametrize(
    "bad",
    [
        {"theta": (0.1, 0.1, 0.3)},
        {"theta": (0.1, 0.1, 0.3, -1.0)},
        {"alpha": float("nan")},
        {"alpha": 2000.0},
        {"beta": -0.5},
    ],
)
def test_rts_params_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RtsParams(**bad)  # type: ignore[arg-type]


# registry


def test_registry_knows_four_policies_by_name() -> None:
    assert SCHEDULER_NAMES == ("round_robin", "best_fit", "spread", "rts")
    assert [make_scheduler(name).name for name in SCHEDULER_NAMES] == list(SCHEDULER_NAMES)


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown scheduler 'fifo'; known: round_robin, best_fit"):
        make_scheduler("fifo")
