"""Compare the scheduling policies on one workload in virtual time.

Generates a workload (or reads a recorded one: DIR/workers.csv and DIR/tasks.csv, columns
as `cloudai.scheduling.workload.workload_from_rows` reads them), runs every built-in
policy over it with `cloudai.scheduling.simulator.simulate`, and prints makespan, mean
wait, and the SLA hit rate overall and per task type. See the simulator's docstring for
the runtime model and the workload module's for how tasks are generated.

    .venv/bin/python bench/simulate.py [--tasks N --workers M --load high|low --seed S]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from cloudai._proto import agent_pb2 as pb
from cloudai.domain.sla import TASK_TYPES
from cloudai.rpc import agent_convert
from cloudai.scheduling.registry import SCHEDULER_NAMES, make_scheduler
from cloudai.scheduling.simulator import SimConfig, SimReport, Workload, simulate
from cloudai.scheduling.snapshot import Plan, Snapshot
from cloudai.scheduling.workload import generate_workload, workload_from_rows


class AgentOverTheWire:
    """The fifth scheduler, `agent`, as the example agent (`cloudai agent --policy P`)
    runs it: it plans on what MasterAgent tells it, the snapshot encoded to protobuf
    bytes on the master's side and decoded on its own. (The master's fallback when an
    agent falls silent is not modelled: this agent never does.)"""

    def __init__(self, policy: str) -> None:
        self._policy = make_scheduler(policy)
        self.name = f"agent/{policy}"

    def plan(self, snapshot: Snapshot) -> Plan:
        wire = agent_convert.cluster_state_to_proto(snapshot).SerializeToString()
        seen = pb.ClusterState.FromString(wire)
        return self._policy.plan(agent_convert.snapshot_from_proto(seen, cursor=snapshot.cursor))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--load", choices=["high", "low"], default="high")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--offered", type=float, help="overrides --load: share of capacity")
    parser.add_argument("--slowdown", type=float, default=SimConfig().slowdown)
    parser.add_argument("--recorded", type=Path, help="folder with workers.csv and tasks.csv")
    parser.add_argument("--agent-policy", default="best_fit", help="the example agent's policy")
    return parser.parse_args()


def load_workload(args: argparse.Namespace) -> Workload:
    if args.recorded is None:
        return generate_workload(args.tasks, args.workers, args.load, args.seed, args.offered)
    with (
        (args.recorded / "workers.csv").open() as workers,
        (args.recorded / "tasks.csv").open() as tasks,
    ):
        return workload_from_rows(csv.DictReader(workers), csv.DictReader(tasks))


def row(report: SimReport, seconds: float) -> str:
    overall = report.overall
    per_type = "".join(f"{report.per_type[t].sla_hit_rate * 100:>14.1f}" for t in TASK_TYPES)
    return (
        f"{report.policy:<15}{report.makespan:>10.1f}{overall.mean_wait:>10.2f}"
        f"{overall.sla_hit_rate * 100:>9.1f}{per_type}{seconds:>8.1f}"
    )


def main() -> None:
    args = parse_args()
    workload = load_workload(args)
    counts = {t: sum(task.task_type == t for task in workload.tasks) for t in TASK_TYPES}
    print(
        f"{len(workload.tasks)} tasks on {len(workload.workers)} workers; "
        f"load {args.offered or args.load}, seed {args.seed}, slowdown {args.slowdown:g}; "
        "tasks per type: " + ", ".join(f"{t} {n}" for t, n in counts.items())
    )
    header = "".join(f"{t:>14}" for t in TASK_TYPES)
    print(f"{'policy':<15}{'makespan':>10}{'wait s':>10}{'SLA %':>9}{header}{'run s':>8}")
    config = SimConfig(slowdown=args.slowdown)
    schedulers = [make_scheduler(name) for name in SCHEDULER_NAMES]
    for scheduler in [*schedulers, AgentOverTheWire(args.agent_policy)]:
        started = time.perf_counter()
        report = simulate(scheduler, workload, config)
        print(row(report, time.perf_counter() - started))


if __name__ == "__main__":
    main()
