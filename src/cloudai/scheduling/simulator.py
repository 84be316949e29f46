"""Run a scheduler over a workload in virtual time: discrete events, no clock, no I/O.

Events are task arrivals and task ends. After each instant with events the simulator
builds a `Snapshot` as the master would (free capacity, queue, running tasks, decayed
usage, learned τ, the round-robin cursor) and applies the plan at once.

Runtime model: a task's true runtime is fixed when it starts,

    runtime = base_runtime · (1 + slowdown · L)

with L the share of its worker's capacity (weighted as domain.sla.resource_weight) held
by all the tasks on it, this one included. Tasks sharing a machine slow each other down
(memory bandwidth, caches, thermal limits), which is what the rts model assumes. Because
the slowdown grows with each worker's own share, the total slowdown is least when every
worker carries the same share of its capacity: a policy that spreads work by count
(round_robin) overloads small workers, one that packs (best_fit) overloads all it uses.

Workers report as their load the allocated share of each dimension (tasks use what they
ask for). τ is learned per type by EMA as tasks end; the SLA is judged against the
default τ, a fixed yardstick: a task meets it when it ends by arrival + k·τ_default(type).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from cloudai.domain.resources import Resources
from cloudai.domain.sla import TASK_TYPES, TauTable, charge, decay, resource_weight, tau_for
from cloudai.scheduling.snapshot import (
    QueuedTaskView,
    RunningView,
    Scheduler,
    Snapshot,
    WorkerView,
)


@dataclass(frozen=True, slots=True)
class SimWorker:
    worker_id: str
    total: Resources


@dataclass(frozen=True, slots=True)
class SimTask:
    task_id: str
    user_id: str
    arrival: float
    request: Resources
    task_type: str
    k_value: float
    base_runtime: float  # seconds on an otherwise idle worker
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Workload:
    workers: tuple[SimWorker, ...]
    tasks: tuple[SimTask, ...]  # any order; arrivals are sorted by the simulator


@dataclass(frozen=True, slots=True)
class SimConfig:
    slowdown: float = 1.0  # runtime factor at a fully allocated worker is 1 + slowdown
    half_life_s: float = 600.0  # fair-share usage decay
    max_running_per_user: int | None = None


@dataclass(frozen=True, slots=True)
class TypeReport:
    tasks: int
    finished: int
    sla_hits: int
    mean_wait: float

    @property
    def sla_hit_rate(self) -> float:
        return self.sla_hits / self.tasks if self.tasks else math.nan


@dataclass(frozen=True, slots=True)
class SimReport:
    policy: str
    makespan: float  # first arrival to last end
    overall: TypeReport
    per_type: Mapping[str, TypeReport]
    learned_tau: Mapping[str, float]


@dataclass(slots=True)
class _Outcome:
    task: SimTask
    started: float | None = None
    finished: float | None = None


@dataclass(slots=True)
class _State:
    workload: Workload
    config: SimConfig
    queue: dict[str, SimTask] = field(default_factory=dict)  # insertion = submit order
    running: dict[str, tuple[RunningView, int]] = field(default_factory=dict)
    held: list[Resources] = field(default_factory=list)
    outcomes: dict[str, _Outcome] = field(default_factory=dict)
    tau: TauTable = field(default_factory=TauTable)
    usage: dict[str, float] = field(default_factory=dict)
    usage_at: float = 0.0
    cursor: int = 0


def simulate(
    scheduler: Scheduler, workload: Workload, config: SimConfig | None = None
) -> SimReport:
    """Run `scheduler` over `workload` until every task that can ever start has ended."""
    state = _State(workload, config or SimConfig())
    state.held = [Resources() for _ in workload.workers]
    state.outcomes = {t.task_id: _Outcome(t) for t in workload.tasks}
    index_of = {w.worker_id: i for i, w in enumerate(workload.workers)}
    events: list[tuple[float, int, int, str]] = []  # (time, kind, seq, task id); ends first
    for seq, task in enumerate(sorted(workload.tasks, key=lambda t: t.arrival)):
        heapq.heappush(events, (task.arrival, _ARRIVAL, seq, task.task_id))
    seq = len(workload.tasks)
    while events:
        now = events[0][0]
        while events and events[0][0] == now:
            _, kind, _, task_id = heapq.heappop(events)
            if kind == _ARRIVAL:
                state.queue[task_id] = state.outcomes[task_id].task
            else:
                _finish(state, task_id, now)
        if not state.queue:
            continue
        plan = scheduler.plan(_snapshot(state, now))
        state.cursor = plan.cursor
        for placement in plan.placements:
            end = _start(state, placement.task_id, index_of[placement.worker_id], now)
            seq += 1
            heapq.heappush(events, (end, _END, seq, placement.task_id))
    return _report(scheduler.name, state)


_END, _ARRIVAL = 0, 1


def _snapshot(state: _State, now: float) -> Snapshot:
    for user, amount in state.usage.items():
        state.usage[user] = decay(amount, now - state.usage_at, state.config.half_life_s)
    state.usage_at = now
    workers = tuple(
        _worker_view(w, held) for w, held in zip(state.workload.workers, state.held, strict=True)
    )
    queue = tuple(
        QueuedTaskView(t.task_id, t.user_id, t.request, t.arrival, t.priority, t.task_type,
                       t.k_value)
        for t in state.queue.values()
    )  # fmt: skip
    running = tuple(view for view, _ in state.running.values())
    return Snapshot(
        now, workers, queue, running, dict(state.usage), state.tau.as_dict(), state.cursor,
        state.config.max_running_per_user,
    )  # fmt: skip


def _worker_view(worker: SimWorker, held: Resources) -> WorkerView:
    total = worker.total
    return WorkerView(
        worker.worker_id, total, (total - held).clamped(), True,
        _share(held.cpu, total.cpu), _share(held.memory_gb, total.memory_gb),
        _share(held.gpu, total.gpu),
    )  # fmt: skip


def _share(part: float, whole: float) -> float:
    return min(part / whole, 1.0) if whole > 0 else 0.0


def _start(state: _State, task_id: str, worker: int, now: float) -> float:
    """Start a placed task on `worker`; returns when it will end."""
    task = state.queue.pop(task_id)
    state.held[worker] = state.held[worker] + task.request
    total = state.workload.workers[worker].total
    load = _share(resource_weight(state.held[worker]), resource_weight(total))
    runtime = task.base_runtime * (1.0 + state.config.slowdown * load)
    worker_id = state.workload.workers[worker].worker_id
    view = RunningView(task_id, worker_id, task.user_id, task.request, now, task.task_type)
    state.running[task_id] = (view, worker)
    state.outcomes[task_id].started = now
    return now + runtime


def _finish(state: _State, task_id: str, now: float) -> None:
    view, worker = state.running.pop(task_id)
    state.held[worker] = (state.held[worker] - view.request).clamped()
    runtime = now - view.started_at
    state.tau = state.tau.observe(view.task_type, runtime)
    state.usage[view.user_id] = charge(state.usage.get(view.user_id, 0.0), view.request, runtime)
    state.outcomes[task_id].finished = now


def _summary(outcomes: list[_Outcome]) -> TypeReport:
    waits = [o.started - o.task.arrival for o in outcomes if o.started is not None]
    hits = sum(
        o.finished is not None
        and o.finished <= o.task.arrival + o.task.k_value * tau_for(o.task.task_type)
        for o in outcomes
    )
    finished = sum(o.finished is not None for o in outcomes)
    mean_wait = sum(waits) / len(waits) if waits else math.nan
    return TypeReport(len(outcomes), finished, hits, mean_wait)


def _report(policy: str, state: _State) -> SimReport:
    outcomes = list(state.outcomes.values())
    ends = [o.finished for o in outcomes if o.finished is not None]
    first = min((o.task.arrival for o in outcomes), default=0.0)
    per_type = {
        task_type: _summary([o for o in outcomes if o.task.task_type == task_type])
        for task_type in TASK_TYPES
    }
    return SimReport(
        policy=policy,
        makespan=max(ends) - first if ends else 0.0,
        overall=_summary(outcomes),
        per_type=per_type,
        learned_tau=state.tau.as_dict(),
    )
