"""Placements per second of the pure scheduling policies.

One planning pass over 10,000 queued tasks (generated requests of the six task types, four
users, priorities 0-3) on 10, 100 and 1,000 idle heterogeneous workers, for each policy,
and for the seed's round-robin planner (kept as `bench/seed_planner.py`) on the same input as
the baseline. The queued tasks were submitted up to an hour ago, so every deadline has
passed; "rts, due later" is the same queue submitted at the pass's time, where rts can stop
early (see its choose). Each figure is the best of --repeat passes. "decided/s" counts
every task a pass dealt with (placed, or given a reason); "placements/s" only the placed.

    .venv/bin/python bench/policies.py [--tasks 10000 --workers 10,100,1000 --repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import time
from collections.abc import Callable

import seed_planner as planner  # the baseline, beside this script

from cloudai.domain.resources import Resources
from cloudai.scheduling.registry import SCHEDULER_NAMES, make_scheduler
from cloudai.scheduling.snapshot import QueuedTaskView, Snapshot, WorkerView
from cloudai.scheduling.workload import generate_workload, generated_workers

SEED = 42
NOW = 1_000_000.0


def build_snapshot(tasks: int, workers: int) -> Snapshot:
    rng = random.Random(SEED)
    workload = generate_workload(tasks, 7, "high", seed=SEED)
    views = tuple(WorkerView(w.worker_id, w.total, w.total) for w in generated_workers(workers))
    queue = tuple(
        QueuedTaskView(t.task_id, t.user_id, t.request, NOW - 3_600 + t.arrival / 1_000,
                       rng.randint(0, 3), t.task_type, t.k_value)
        for t in workload.tasks
    )  # fmt: skip
    return Snapshot(NOW, views, queue, usage={"alice": 500.0, "bob": 100.0})


def best_time(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    """Best wall time of `repeat` runs, and how many tasks the run placed."""
    best, placed = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        placed = run()
        best = min(best, time.perf_counter() - started)
    return best, placed


def seed_planner_run(snap: Snapshot) -> Callable[[], int]:
    slots = [planner.WorkerSlot(w.worker_id, w.total, w.free) for w in snap.workers]
    queue = [planner.QueuedTask(t.task_id, t.request) for t in snap.queue]
    return lambda: len(planner.plan_round_robin(slots, queue, 0).placements)


def submitted_now(snap: Snapshot) -> Snapshot:
    return dataclasses.replace(
        snap, queue=tuple(dataclasses.replace(t, submitted_at=NOW) for t in snap.queue)
    )


def policy_run(name: str, snap: Snapshot) -> Callable[[], int]:
    scheduler = make_scheduler(name)
    return lambda: len(scheduler.plan(snap).placements)


def worst_case(tasks: int, workers: int, repeat: int) -> None:
    """Every worker full, so nothing fits now (each task still gets its reason and
    position); target: under 20 ms a pass at 1,000 workers and 10,000 queued."""
    snap = build_snapshot(tasks, workers)
    full = dataclasses.replace(
        snap, workers=tuple(dataclasses.replace(w, free=Resources()) for w in snap.workers)
    )
    for name in SCHEDULER_NAMES:
        elapsed, _ = best_time(policy_run(name, full), repeat)
        print(f"nothing fits now, {workers} workers, {tasks} queued: {name:<12}"
              f"{elapsed * 1e3:7.1f} ms/pass")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--workers", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    header = f"{'workers':>7}  {'policy':<18}{'placed':>7}{'ms/pass':>9}"
    print(f"{header}{'placements/s':>14}{'decided/s':>12}")
    ratios = []
    for workers in [int(n) for n in args.workers.split(",")]:
        snap = build_snapshot(args.tasks, workers)
        runs = {name: policy_run(name, snap) for name in SCHEDULER_NAMES}
        runs["rts, due later"] = policy_run("rts", submitted_now(snap))
        runs["seed planner (rr)"] = seed_planner_run(snap)
        seconds: dict[str, float] = {}
        for name, run in runs.items():
            seconds[name], placed = best_time(run, args.repeat)
            print(
                f"{workers:>7}  {name:<18}{placed:>7}{seconds[name] * 1e3:>9.1f}"
                f"{placed / seconds[name]:>14,.0f}{args.tasks / seconds[name]:>12,.0f}"
            )
        ratios.append((workers, seconds["seed planner (rr)"] / seconds["round_robin"]))
    worst_case(args.tasks, max(int(n) for n in args.workers.split(",")), args.repeat)
    for workers, ratio in ratios:
        print(f"round_robin vs seed planner at {workers} workers: {ratio:.1f}x the speed")


if __name__ == "__main__":
    main()
