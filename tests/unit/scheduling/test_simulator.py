"""The simulator: virtual time, load-dependent runtimes, SLA accounting."""

import math

import pytest

from cloudai.domain.resources import Resources
from cloudai.scheduling.registry import make_scheduler
from cloudai.scheduling.simulator import SimConfig, SimTask, SimWorker, Workload, simulate
from cloudai.scheduling.workload import generate_workload, workload_from_rows

CORE = Resources(1, 0, 0, 0)


def sim_task(
    task_id: str, arrival: float, base: float, *, cpu: float = 1, k: float = 2.0
) -> SimTask:
    return SimTask(task_id, "u1", arrival, Resources(cpu, 0, 0, 0), "cpu-light", k, base)


def test_a_task_alone_runs_slower_the_more_of_its_worker_it_holds() -> None:
    workload = Workload((SimWorker("w", Resources(4, 0, 0, 0)),), (sim_task("t", 10.0, 8.0),))
    report = simulate(make_scheduler("round_robin"), workload, SimConfig(slowdown=1.0))
    # holds 1 of 4 cores: 8 s x (1 + 0.25) = 10 s, ending at 20; deadline 10 + 2 x 5 = 20
    assert report.makespan == pytest.approx(10.0)
    assert report.overall.mean_wait == 0.0
    assert report.overall.sla_hits == 1
    assert report.learned_tau["cpu-light"] == pytest.approx(0.2 * 10.0 + 0.8 * 5.0)


def test_tasks_wait_for_capacity_and_the_wait_counts_against_the_deadline() -> None:
    workload = Workload(
        (SimWorker("w", Resources(1, 0, 0, 0)),),
        (sim_task("first", 0.0, 5.0), sim_task("second", 0.0, 5.0, k=2.5)),
    )
    report = simulate(make_scheduler("round_robin"), workload, SimConfig(slowdown=0.0))
    # second starts at 5 and ends at 10 <= 0 + 2.5 x 5
    assert report.makespan == pytest.approx(10.0)
    assert report.overall.mean_wait == pytest.approx(2.5)
    assert report.overall.sla_hits == 2
    tight = Workload(workload.workers, (sim_task("a", 0.0, 5.0), sim_task("b", 0.0, 5.0, k=1.5)))
    assert (
        simulate(make_scheduler("round_robin"), tight, SimConfig(slowdown=0.0)).overall.sla_hits
        == 1
    )


def test_a_task_that_never_fits_is_reported_unfinished() -> None:
    workload = Workload(
        (SimWorker("w", Resources(1, 0, 0, 0)),),
        (sim_task("big", 0.0, 5.0, cpu=8), sim_task("ok", 1.0, 2.0)),
    )
    report = simulate(make_scheduler("best_fit"), workload)
    assert (report.overall.tasks, report.overall.finished) == (2, 1)
    assert report.per_type["cpu-light"].finished == 1
    assert math.isnan(report.per_type["gpu-training"].sla_hit_rate)


def test_generated_workloads_are_reproducible_and_scale_with_load() -> None:
    high = generate_workload(200, 7, "high", seed=3)
    assert high == generate_workload(200, 7, "high", seed=3)
    assert high != generate_workload(200, 7, "high", seed=4)
    low = generate_workload(200, 7, "low", seed=3)
    assert [t.request for t in low.tasks] == [t.request for t in high.tasks]
    assert low.tasks[-1].arrival > 2 * high.tasks[-1].arrival  # same work, spread thinner
    assert len({w.total for w in high.workers}) == 4  # heterogeneous
    with pytest.raises(ValueError, match="load"):
        generate_workload(10, 2, "medium")
    with pytest.raises(ValueError, match="offered"):
        generate_workload(10, 2, offered=0.0)
    busier = generate_workload(200, 7, "low", seed=3, offered=1.2)
    assert busier.tasks[-1].arrival == pytest.approx(high.tasks[-1].arrival * 0.6 / 1.2)


def test_recorded_workloads_are_read_from_rows() -> None:
    workers = [{"worker_id": "w", "cpu": "4", "memory_gb": "8", "storage_gb": "10", "gpu": "1"}]
    tasks = [
        {"task_id": "t", "user_id": "u", "arrival": "1.5", "cpu": "1", "memory_gb": "2",
         "storage_gb": "0", "gpu": "0", "task_type": "mixed", "k_value": "2", "runtime": "3"},
    ]  # fmt: skip
    workload = workload_from_rows(workers, tasks)
    assert workload.workers == (SimWorker("w", Resources(4, 8, 10, 1)),)
    assert workload.tasks == (SimTask("t", "u", 1.5, Resources(1, 2, 0, 0), "mixed", 2.0, 3.0),)


def test_rts_meets_more_deadlines_than_round_robin_at_high_load() -> None:
    """Round robin gives every worker the same number of tasks, so the small 4-core
    workers of the generated cluster run fully allocated and their tasks run slowest
    (runtime grows with the worker's allocated share); rts predicts that slowdown from
    the share of free capacity a task takes and the worker's load, and places tasks where
    they will finish before their deadline."""
    workload = generate_workload(1_000, 14, "high", seed=1)
    by_round_robin = simulate(make_scheduler("round_robin"), workload)
    by_rts = simulate(make_scheduler("rts"), workload)
    assert by_rts.overall.finished == by_round_robin.overall.finished == 1_000
    assert by_rts.overall.sla_hit_rate > by_round_robin.overall.sla_hit_rate + 0.02
