"""The seed's round-robin planner, as the foundation shipped it: kept only as the baseline
of bench/policies.py. Round-robin placement over the workers a task fits on.

A pure function of its inputs: no I/O, no clock, no store. The master commits the
placements it returns with compare-and-set writes, so a stale plan fails cleanly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cloudai.domain.resources import Resources


@dataclass(frozen=True, slots=True)
class WorkerSlot:
    worker_id: str
    total: Resources
    free: Resources


@dataclass(frozen=True, slots=True)
class QueuedTask:
    task_id: str
    request: Resources


@dataclass(frozen=True, slots=True)
class Placement:
    task_id: str
    worker_id: str


@dataclass(slots=True)
class Plan:
    placements: list[Placement] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)  # task_id -> why it waits
    next_cursor: int = 0


def plan_round_robin(
    workers: Sequence[WorkerSlot], queue: Sequence[QueuedTask], cursor: int = 0
) -> Plan:
    """Place queued tasks in order; each goes to the next worker (round-robin from
    `cursor`) with enough free resources. A task that fits nowhere waits, with a
    reason, and does not block smaller tasks behind it."""
    free = {w.worker_id: w.free for w in workers}
    order = [w.worker_id for w in workers]
    plan = Plan(next_cursor=cursor)
    for task in queue:
        chosen = _next_fitting(order, free, task.request, plan.next_cursor)
        if chosen is None:
            plan.pending[task.task_id] = pending_reason(task.request, workers, free)
            continue
        index, worker_id = chosen
        free[worker_id] = free[worker_id] - task.request
        plan.placements.append(Placement(task.task_id, worker_id))
        plan.next_cursor = index + 1
    return plan


def _next_fitting(
    order: Sequence[str], free: dict[str, Resources], request: Resources, cursor: int
) -> tuple[int, str] | None:
    count = len(order)
    for step in range(count):
        index = (cursor + step) % count
        if request.fits_in(free[order[index]]):
            return index, order[index]
    return None


def pending_reason(
    request: Resources, workers: Sequence[WorkerSlot], free: dict[str, Resources]
) -> str:
    """Say, as a Slurm or Nomad user would want, why nothing can take this task now
    (`free`: what is left on each worker at this point of the pass)."""
    if not workers:
        return "no active worker is registered"
    never = [w for w in workers if not request.fits_in(w.total)]
    if len(never) == len(workers):
        dims = sorted({d for w in workers for d in request.shortfalls(w.total)})
        return (
            f"no registered worker has enough {', '.join(dims)} in total "
            f"(asks {_describe(request)}; largest worker: {_describe(_largest(workers))})"
        )
    short: dict[str, int] = {}
    for w in workers:
        for dim in request.shortfalls(free[w.worker_id]):
            short[dim] = short.get(dim, 0) + 1
    parts = [f"{dim} exhausted on {n} worker{'s' if n != 1 else ''}" for dim, n in short.items()]
    return "waiting for free resources: " + "; ".join(parts)


def _largest(workers: Sequence[WorkerSlot]) -> Resources:
    return Resources(
        max(w.total.cpu for w in workers),
        max(w.total.memory_gb for w in workers),
        max(w.total.storage_gb for w in workers),
        max(w.total.gpu for w in workers),
    )


def _describe(r: Resources) -> str:
    return f"{r.cpu:g} CPU, {r.memory_gb:g} GB memory, {r.storage_gb:g} GB storage, {r.gpu} GPU"
