"""The rules every policy shares: eligibility, targets, caps, reservation, reasons."""

import pytest

from cloudai.scheduling.registry import SCHEDULER_NAMES, make_scheduler
from cloudai.scheduling.snapshot import Plan, Snapshot
from tests.unit.scheduling.builders import (
    NOW,
    placed_on,
    res,
    running,
    snapshot,
    task,
    worker,
)

pytestmark = pytest.mark.parametrize("policy", SCHEDULER_NAMES)


def plan(policy: str, snap: Snapshot) -> Plan:
    return make_scheduler(policy).plan(snap)


def test_without_workers_every_task_waits_with_a_position(policy: str) -> None:
    result = plan(policy, snapshot([], [task("a"), task("b")]))
    assert result.placements == []
    assert result.pending == {
        "a": "no active worker is registered",
        "b": "no active worker is registered",
    }
    assert result.positions == {"a": 1, "b": 2}


def test_a_task_no_worker_could_ever_fit_waits_without_blocking_or_reserving(policy: str) -> None:
    result = plan(policy, snapshot([worker("w", cpu=2)], [task("huge", cpu=64), task("small")]))
    assert placed_on(result) == {"small": "w"}
    assert result.pending["huge"] == (
        "no registered worker could ever fit: asks 64 CPU, 0.5 GiB memory, 1 GiB storage, 0 GPU; "
        "largest worker: 2 CPU, 8 GiB memory, 100 GiB storage, 0 GPU"
    )
    assert result.reservations == {}


def test_draining_workers_take_nothing_new_but_count_for_ever_fitting(policy: str) -> None:
    workers = [worker("big", cpu=16, schedulable=False), worker("small", cpu=2)]
    result = plan(policy, snapshot(workers, [task("large", cpu=8), task("a"), task("b")]))
    assert placed_on(result) == {"a": "small", "b": "small"}
    assert result.pending["large"] == "only draining or cordoned workers could ever fit it"
    assert result.reservations == {}


def test_placed_tasks_consume_free_capacity_within_a_pass(policy: str) -> None:
    result = plan(policy, snapshot([worker("w", cpu=4)], [task("1", cpu=3), task("2", cpu=3)]))
    assert placed_on(result) == {"1": "w"}
    assert result.pending["2"].startswith("cpu exhausted on 1 worker;")


def test_shortage_reasons_name_the_exhausted_resource(policy: str) -> None:
    workers = [worker(f"w{i}", free=res(4, 0.1, 100)) for i in range(3)]
    workers.append(worker("gpu", gpu=1, free=res(4, 1, 100, 0)))
    queue = [task("mem", memory_gb=1), task("gpu", gpu=1), task("mem2", memory_gb=1)]
    result = plan(policy, snapshot(workers, queue))
    assert result.placements[0].task_id == "mem"  # only the GPU worker has memory left
    assert result.pending["gpu"] == "no worker with 1 free GPU; worker gpu is reserved for it"
    assert result.pending["mem2"] == "memory exhausted on 4 workers"


def test_identical_unplaceable_tasks_all_get_the_reason(policy: str) -> None:
    queue = [task("first", cpu=2)] + [task(f"t{i}", cpu=2) for i in range(500)]
    result = plan(policy, snapshot([worker("w", free=res(1, 8, 100))], queue))
    assert result.placements == []
    assert result.reservations == {"first": "w"}
    assert {result.pending[f"t{i}"] for i in range(500)} == {"cpu exhausted on 1 worker"}
    assert sorted(result.positions.values()) == list(range(1, 502))


def test_target_worker_restricts_placement(policy: str) -> None:
    workers = [worker("a"), worker("b"), worker("off", schedulable=False), worker("tiny", cpu=1)]
    queue = [
        task("to-b", target="b"),
        task("to-b2", target="b"),
        task("ghost", target="w-9"),
        task("off", target="off"),
        task("big", cpu=2, target="tiny"),
    ]
    result = plan(policy, snapshot(workers, queue))
    assert placed_on(result) == {"to-b": "b", "to-b2": "b"}
    assert result.pending == {
        "ghost": "target worker w-9 is not registered",
        "off": "target worker off is draining or cordoned",
        "big": "target worker tiny could never fit it: asks 2 CPU, 0.5 GiB memory, "
        "1 GiB storage, 0 GPU; worker has 1 CPU, 8 GiB memory, 100 GiB storage, 0 GPU",
    }


def test_a_full_target_reserves_that_worker(policy: str) -> None:
    workers = [worker("a", free=res(1, 8, 100)), worker("b")]
    result = plan(policy, snapshot(workers, [task("pinned", cpu=2, target="a"), task("x")]))
    assert result.reservations == {"pinned": "a"}
    assert result.pending["pinned"] == "cpu exhausted on 1 worker; worker a is reserved for it"
    assert placed_on(result) == {"x": "b"}


def test_user_running_task_limit_counts_running_and_placed_tasks(policy: str) -> None:
    queue = [task("u1-a"), task("u1-b"), task("u2-a", user="u2"), task("u2-b", user="u2")]
    snap = snapshot([worker("w", cpu=16)], queue, running_=(running("r", "w", user="u1"),), cap=2)
    result = plan(policy, snap)
    assert sorted(placed_on(result)) == ["u1-a", "u2-a", "u2-b"]
    assert result.pending == {"u1-b": "user running-task limit reached (2)"}


def test_a_capped_user_reserves_nothing(policy: str) -> None:
    queue = [task("capped", cpu=4), task("small", user="u2")]
    snap = snapshot([worker("w", free=res(2, 8, 100))], queue, running_=(running("r", "w"),), cap=1)
    result = plan(policy, snap)
    assert result.reservations == {}
    assert placed_on(result) == {"small": "w"}


def test_head_task_reserves_the_worker_where_it_fits_soonest(policy: str) -> None:
    # Both workers have 1 CPU free of 4; a's 3-CPU task ends sooner than b's.
    workers = [worker("a", free=res(1, 8, 100)), worker("b", free=res(1, 8, 100))]
    runs = (
        running("ra", "a", cpu=3, started_at=NOW - 4),  # cpu-light τ 5 s: ends in 1 s
        running("rb", "b", cpu=3, started_at=NOW - 1),  # ends in 4 s
    )
    queue = [task("big", cpu=2), task("small-1", cpu=0.5), task("small-2", cpu=0.5)]
    queue += [task("small-3", cpu=0.5)]
    result = plan(policy, snapshot(workers, queue, running_=runs))
    assert result.reservations == {"big": "a"}
    assert placed_on(result) == {"small-1": "b", "small-2": "b"}
    assert result.pending["small-3"] == "waiting behind a reserved task (big)"
    assert result.pending["big"] == "cpu exhausted on 2 workers; worker a is reserved for it"


def test_an_overdue_running_task_is_expected_to_end_now_not_in_the_past(policy: str) -> None:
    workers = [worker("a", free=res(1, 8, 100)), worker("b", free=res(1.5, 8, 100))]
    runs = (running("ra", "a", cpu=3, started_at=NOW - 500), running("rb", "b", started_at=NOW))
    result = plan(policy, snapshot(workers, [task("big", cpu=2)], running_=runs))
    # a's task is long overdue (expected now), b's ends in 5 s: a is sooner.
    assert result.reservations == {"big": "a"}


def test_at_most_one_reservation_per_pass(policy: str) -> None:
    workers = [worker("a", free=res(1, 8, 100)), worker("b", free=res(1, 8, 100))]
    result = plan(policy, snapshot(workers, [task("big1", cpu=2), task("big2", cpu=3)]))
    assert list(result.reservations) == ["big1"]
    assert result.pending["big2"] == "cpu exhausted on 2 workers"


def test_every_queued_task_is_placed_or_has_a_reason(policy: str) -> None:
    workers = [worker("a", cpu=3), worker("b", cpu=2, gpu=1), worker("c", schedulable=False)]
    queue = [task(f"t{i}", cpu=1 + i % 3, gpu=i % 4 == 0, priority=i % 2) for i in range(20)]
    result = plan(policy, snapshot(workers, queue))
    placed = set(placed_on(result))
    assert placed | set(result.pending) == {t.task_id for t in queue}
    assert not placed & set(result.pending)
    assert sorted(result.positions.values()) == list(range(1, 21))
