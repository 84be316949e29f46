"""Workloads for the simulator: generated from a seed, or read from recorded rows.

The generated cluster is heterogeneous on purpose, as real ones are: small 4-core nodes
(3 in 7) next to 8-core, 32-core and 16-core 4-GPU nodes. Tasks follow a mix of the six
types, each with a request shaped like its type, a base runtime of 60-100 % of its
default τ, and an SLA multiplier k of 1.5, 2 or 2.5. Arrivals are a Poisson process whose
rate makes the work offered (request x base runtime) on the most demanded resource (here
the GPUs) a given share of the cluster's capacity: 0.6 at high load, 0.25 at low load.
Since runtimes grow with load (see the simulator), a worker's real occupancy is higher.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cloudai.domain.resources import Resources
from cloudai.domain.sla import DEFAULT_TAU
from cloudai.scheduling.simulator import SimTask, SimWorker, Workload

OFFERED_LOAD = {"high": 0.6, "low": 0.25}

# (cpu, memory GB, storage GB, gpu); the order repeats over the workers.
_WORKER_SHAPES = (
    Resources(4, 8, 100, 0),
    Resources(8, 32, 200, 0),
    Resources(32, 128, 500, 0),
    Resources(16, 64, 500, 4),
    Resources(4, 8, 100, 0),
    Resources(8, 32, 200, 0),
    Resources(4, 8, 100, 0),
)


@dataclass(frozen=True, slots=True)
class _TaskShape:
    share: float  # of all tasks
    cpu: tuple[float, ...]
    memory_gb: tuple[float, ...]
    gpu: int = 0


_TASK_SHAPES: Mapping[str, _TaskShape] = {
    "cpu-light": _TaskShape(0.42, (0.5, 1.0), (0.5, 1.0, 2.0)),
    "cpu-heavy": _TaskShape(0.20, (2.0, 4.0), (2.0, 4.0)),
    "memory-heavy": _TaskShape(0.12, (1.0, 2.0), (12.0, 16.0)),
    "gpu-inference": _TaskShape(0.06, (2.0,), (8.0,), gpu=1),
    "gpu-training": _TaskShape(0.01, (8.0,), (32.0,), gpu=2),
    "mixed": _TaskShape(0.19, (1.0, 2.0), (2.0, 4.0)),
}
_USERS = (("alice", 0.4), ("bob", 0.3), ("carol", 0.2), ("dave", 0.1))
_K_VALUES = (1.5, 2.0, 2.5)


def generated_workers(count: int) -> tuple[SimWorker, ...]:
    return tuple(
        SimWorker(f"w{n:03d}", _WORKER_SHAPES[n % len(_WORKER_SHAPES)]) for n in range(count)
    )


def generate_workload(
    tasks: int, workers: int, load: str = "high", seed: int = 0, offered: float | None = None
) -> Workload:
    """A reproducible workload of `tasks` tasks on `workers` generated workers; `offered`
    (a share of capacity, > 0) overrides the share that `load` names."""
    if load not in OFFERED_LOAD:
        raise ValueError(f"load must be one of {sorted(OFFERED_LOAD)}, got {load!r}")
    share = OFFERED_LOAD[load] if offered is None else offered
    if share <= 0:
        raise ValueError(f"offered load must be positive, got {share}")
    rng = random.Random(seed)
    cluster = generated_workers(workers)
    types = list(_TASK_SHAPES)
    weights = [_TASK_SHAPES[t].share for t in types]
    drafts = []
    for n in range(tasks):
        task_type = rng.choices(types, weights)[0]
        shape = _TASK_SHAPES[task_type]
        request = Resources(rng.choice(shape.cpu), rng.choice(shape.memory_gb), 1.0, shape.gpu)
        base = DEFAULT_TAU[task_type] * rng.uniform(0.6, 1.0)
        user = rng.choices([u for u, _ in _USERS], [w for _, w in _USERS])[0]
        drafts.append((f"task-{n:05d}", user, request, task_type, rng.choice(_K_VALUES), base))
    mean_gap = _busiest_share([(d[2], d[5]) for d in drafts], cluster) / share
    mean_gap /= max(tasks, 1)
    now, generated = 0.0, []
    for task_id, user, request, task_type, k, base in drafts:
        now += rng.expovariate(1.0 / mean_gap) if mean_gap > 0 else 0.0
        generated.append(SimTask(task_id, user, now, request, task_type, k, base))
    return Workload(cluster, tuple(generated))


def _busiest_share(work: list[tuple[Resources, float]], cluster: tuple[SimWorker, ...]) -> float:
    """Seconds the whole cluster needs to run `work` on its most demanded dimension."""
    busiest = 0.0
    for dim in ("cpu", "memory_gb", "gpu"):
        demand = sum(getattr(request, dim) * seconds for request, seconds in work)
        capacity = sum(getattr(w.total, dim) for w in cluster)
        if capacity > 0:
            busiest = max(busiest, demand / capacity)
    return busiest


def workload_from_rows(
    workers: Iterable[Mapping[str, str]], tasks: Iterable[Mapping[str, str]]
) -> Workload:
    """A recorded workload (e.g. CSV rows). Workers: worker_id, cpu, memory_gb,
    storage_gb, gpu. Tasks: task_id, user_id, arrival, cpu, memory_gb, storage_gb, gpu,
    task_type, k_value, runtime (the base runtime, seconds), and optionally priority."""
    return Workload(
        tuple(SimWorker(row["worker_id"], _resources(row)) for row in workers),
        tuple(_recorded_task(row) for row in tasks),
    )


def _recorded_task(row: Mapping[str, str]) -> SimTask:
    return SimTask(
        task_id=row["task_id"],
        user_id=row["user_id"],
        arrival=float(row["arrival"]),
        request=_resources(row),
        task_type=row["task_type"],
        k_value=float(row["k_value"]),
        base_runtime=float(row["runtime"]),
        priority=int(row.get("priority") or 0),
    )


def _resources(row: Mapping[str, str]) -> Resources:
    return Resources(
        float(row["cpu"]), float(row["memory_gb"]), float(row["storage_gb"]), int(row["gpu"])
    )
