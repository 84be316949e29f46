"""Queue order: priority, fair share between users, submit order."""

import random
from collections.abc import Sequence

import pytest

from cloudai.scheduling.ordering import order_queue
from cloudai.scheduling.registry import SCHEDULER_NAMES, make_scheduler
from cloudai.scheduling.snapshot import QueuedTaskView
from tests.unit.scheduling.builders import placed_on, snapshot, task, worker


def ids(tasks: Sequence[QueuedTaskView]) -> list[str]:
    return [t.task_id for t in tasks]


def test_higher_priority_first_then_submit_order() -> None:
    queue = [
        task("a"),
        task("b", priority=5),
        task("c"),
        task("d", priority=5),
        task("e", priority=-1),
    ]
    assert ids(order_queue(queue, {}, {})) == ["b", "d", "a", "c", "e"]


def test_two_users_with_equal_usage_interleave() -> None:
    queue = [task(f"x{i}", user="x") for i in range(3)] + [
        task(f"y{i}", user="y") for i in range(3)
    ]
    assert ids(order_queue(queue, {}, {})) == ["x0", "y0", "x1", "y1", "x2", "y2"]


def test_a_light_user_goes_before_a_heavy_users_backlog() -> None:
    backlog = [task(f"heavy{i}", user="heavy") for i in range(100)]
    queue = [*backlog, task("light1", user="light"), task("light2", user="light")]
    # cpu-light τ 5 s, request weight 1 + 0.5/4: each task charges 5.625 resource-seconds.
    ordered = ids(order_queue(queue, {"heavy": 1_000.0, "light": 0.0}, {}))
    assert ordered[:2] == ["light1", "light2"]


def test_a_user_with_some_usage_catches_up_after_the_difference_is_charged() -> None:
    queue = [task(f"h{i}", user="h") for i in range(5)] + [
        task(f"l{i}", user="l") for i in range(5)
    ]
    # 2 tasks' worth of usage (2 x 5.625) separates them: l goes twice, then they alternate.
    ordered = ids(order_queue(queue, {"h": 11.25, "l": 0.0}, {}))
    assert ordered[:6] == ["l0", "l1", "h0", "l2", "h1", "l3"]


def test_charges_use_learned_tau_and_request_weight() -> None:
    queue = [task("big", cpu=8, user="a"), task("a2", user="a"), task("b1", user="b")]
    queue += [task("b2", user="b")]
    # a's 8-core task charges far more than b's small ones, so b gets two turns in a row.
    assert ids(order_queue(queue, {}, {"cpu-light": 5.0})) == ["big", "b1", "b2", "a2"]


def test_charges_carry_to_lower_priorities() -> None:
    queue = [task("a-hi", user="a", priority=1), task("a-lo", user="a"), task("b-lo", user="b")]
    assert ids(order_queue(queue, {}, {})) == ["a-hi", "b-lo", "a-lo"]


@pytest.mark.parametrize("policy", SCHEDULER_NAMES)
def test_a_thousand_equal_tasks_of_mixed_priority_are_placed_in_priority_order(
    policy: str,
) -> None:
    rng = random.Random(7)
    queue = [task(f"t{i}", priority=rng.randint(0, 9)) for i in range(1_000)]
    workers = [worker(f"w{i}", cpu=10, memory_gb=64) for i in range(60)]  # room for 600
    result = make_scheduler(policy).plan(snapshot(workers, queue))
    priority = {t.task_id: t.priority for t in queue}
    placed = [priority[p.task_id] for p in result.placements]
    assert len(placed) == 600
    assert placed == sorted(placed, reverse=True)
    lowest_placed = min(placed)
    assert all(priority[t] <= lowest_placed for t in result.pending)
    order = sorted(result.positions, key=result.positions.__getitem__)
    assert [priority[t] for t in order] == sorted(priority.values(), reverse=True)


@pytest.mark.parametrize("policy", SCHEDULER_NAMES)
def test_a_light_users_task_starts_at_the_next_pass_despite_a_heavy_backlog(policy: str) -> None:
    queue = [task(f"heavy{i}", user="heavy") for i in range(50)] + [task("light", user="light")]
    usage = {"heavy": 500.0}
    result = make_scheduler(policy).plan(snapshot([worker("w", cpu=2)], queue, usage=usage))
    assert "light" in placed_on(result)
    assert result.positions["light"] == 1
