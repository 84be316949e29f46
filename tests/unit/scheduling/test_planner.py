from cloudai.domain.resources import Resources
from cloudai.scheduling.planner import Placement, QueuedTask, WorkerSlot, plan_round_robin

BIG = Resources(cpu=4, memory_gb=8, storage_gb=100, gpu=0)


def slot(worker_id: str, free: Resources = BIG, total: Resources = BIG) -> WorkerSlot:
    return WorkerSlot(worker_id, total, free)


def task(task_id: str, cpu: float = 1, gpu: int = 0) -> QueuedTask:
    return QueuedTask(task_id, Resources(cpu, 0.5, 1, gpu))


def test_round_robin_spreads_tasks_over_fitting_workers() -> None:
    plan = plan_round_robin([slot("a"), slot("b")], [task("1"), task("2"), task("3")])
    assert plan.placements == [Placement("1", "a"), Placement("2", "b"), Placement("3", "a")]
    assert plan.next_cursor == 1


def test_cursor_continues_between_passes() -> None:
    plan = plan_round_robin([slot("a"), slot("b")], [task("1")], cursor=1)
    assert plan.placements == [Placement("1", "b")]


def test_placed_tasks_consume_free_capacity_within_a_pass() -> None:
    plan = plan_round_robin([slot("a")], [task("1", cpu=3), task("2", cpu=3)])
    assert plan.placements == [Placement("1", "a")]
    assert "cpu exhausted on 1 worker" in plan.pending["2"]


def test_task_larger_than_any_worker_waits_with_reason_and_does_not_block() -> None:
    plan = plan_round_robin([slot("a")], [task("huge", cpu=64), task("small")])
    assert plan.placements == [Placement("small", "a")]
    reason = plan.pending["huge"]
    assert "no registered worker has enough cpu" in reason
    assert "asks 64 CPU" in reason and "largest worker: 4 CPU" in reason


def test_gpu_request_needs_a_gpu_worker() -> None:
    gpu_box = Resources(cpu=4, memory_gb=8, storage_gb=100, gpu=2)
    plan = plan_round_robin([slot("cpu-only"), slot("gpu", gpu_box, gpu_box)], [task("t", gpu=1)])
    assert plan.placements == [Placement("t", "gpu")]


def test_no_workers_means_everything_waits() -> None:
    plan = plan_round_robin([], [task("1")])
    assert plan.placements == []
    assert plan.pending == {"1": "no active worker is registered"}


def test_fractional_cpu_sums_do_not_reject_exact_fits() -> None:
    free = Resources(cpu=0.3, memory_gb=8, storage_gb=100)
    plan = plan_round_robin([slot("a", free)], [task("1", cpu=0.1), task("2", cpu=0.2)])
    assert len(plan.placements) == 2
