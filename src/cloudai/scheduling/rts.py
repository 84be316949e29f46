"""rts: the reference's risk-aware choice, with its defects fixed.

For a task of type T with SLA multiplier k, submitted at s, and a worker that fits it:

    τ  = learned τ(T), else the default       D = s + k·τ   (from submission, per-task k)
    L  = (C·u_cpu + M/10·u_mem + 2G·u_gpu) / (C + M/10 + 2G)   totals C, M, G; loads u in 0..1
    E  = τ·(1 + theta1·c/c_free + theta2·m/m_free + theta3·g/g_free + theta4·L)
         (c, m, g: what the task asks; a ratio is 0 when it asks none)
    Δ  = max(0, now + E - D)
    risk = alpha·Δ + beta·L

and the task goes to the worker with the lowest risk (ties: the less loaded, then snapshot
order). The reference
took k from the scheduler, not the task; counted D from "now", so queueing never counted;
read loads in percent, so theta4·L swamped everything. Here loads are fractions, and a task
placed earlier in the same pass raises its worker's load by the share of the total it asks
for, so one pass does not pile every task onto the worker that was idlest at its start.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from cloudai.domain.sla import deadline, tau_for
from cloudai.scheduling.capacity import EPSILON, FreeCapacity
from cloudai.scheduling.snapshot import QueuedTaskView, Snapshot

MEMORY_LOAD_SCALE = 10.0  # the reference's weights: memory GB / 10, GPUs x 2
GPU_LOAD_SCALE = 2.0


@dataclass(frozen=True, slots=True)
class RtsParams:
    theta: tuple[float, float, float, float] = (0.1, 0.1, 0.3, 0.2)
    alpha: float = 10.0  # weight of the expected deadline overrun, per second
    beta: float = 1.0  # weight of the worker's load

    def __post_init__(self) -> None:
        if len(self.theta) != 4:
            raise ValueError(f"theta needs 4 values, got {len(self.theta)}")
        # The reference's validation bounds.
        checks = [(t, 10.0, f"theta[{n}]") for n, t in enumerate(self.theta)]
        checks += [(self.alpha, 1000.0, "alpha"), (self.beta, 100.0, "beta")]
        for value, upper, name in checks:
            if not (math.isfinite(value) and 0.0 <= value <= upper):
                raise ValueError(f"{name} must be within [0, {upper:g}], got {value}")


class Rts:
    def __init__(self, params: RtsParams | None = None) -> None:
        self.params = params or RtsParams()

    def start(self, snapshot: Snapshot, capacity: FreeCapacity) -> _RtsPass:
        return _RtsPass(snapshot, capacity, self.params)


class _RtsPass:
    def __init__(self, snapshot: Snapshot, capacity: FreeCapacity, params: RtsParams) -> None:
        self.snapshot = snapshot
        self.capacity = capacity
        self.params = params
        views = [snapshot.workers[p] for p in capacity.positions]
        self.totals = [(w.total.cpu, w.total.memory_gb, float(w.total.gpu)) for w in views]
        self.usage = [
            [_fraction(w.cpu_load), _fraction(w.memory_load), _fraction(w.gpu_load)] for w in views
        ]
        self.load = [self._load(i) for i in range(len(views))]
        self.by_load = sorted((load, i) for i, load in enumerate(self.load))

    def _load(self, i: int) -> float:
        cpu, memory, gpu = self.totals[i]
        weights = (cpu, memory / MEMORY_LOAD_SCALE, GPU_LOAD_SCALE * gpu)
        total = sum(weights)
        if total <= 0:
            return 0.0
        return sum(w * u for w, u in zip(weights, self.usage[i], strict=True)) / total

    def choose(self, task: QueuedTaskView) -> int | None:
        """The fitting worker of least risk (ties: the less loaded, then snapshot order).

        Workers are visited from the least loaded up. Since every theta term is >= 0, a
        worker's risk is at least alpha·max(0, τ(1 + theta4·L) - time left) + beta·L, which
        grows with its load L; once that bound reaches the best risk found, no worker
        further up can do better and the search stops."""
        c, request = self.capacity, task.request
        t1, t2, t3, t4 = self.params.theta
        alpha, beta = self.params.alpha, self.params.beta
        tau = tau_for(task.task_type, self.snapshot.tau)
        time_left = deadline(task.submitted_at, task.k_value, tau) - self.snapshot.now
        need_cpu, need_memory, need_gpu = request.cpu, request.memory_gb, request.gpu
        need_storage = request.storage_gb - EPSILON
        best, best_risk = None, math.inf
        for load, i in self.by_load:
            if alpha * max(0.0, tau * (1.0 + t4 * load) - time_left) + beta * load >= best_risk:
                break
            free_cpu, free_memory, free_gpu = c.cpu[i], c.memory[i], c.gpu[i]
            if (
                need_cpu > free_cpu + EPSILON
                or need_memory > free_memory + EPSILON
                or need_gpu > free_gpu
                or c.storage[i] < need_storage
                or i == c.reserved
            ):
                continue
            predicted = tau * (
                1.0
                + t1 * _share(need_cpu, free_cpu)
                + t2 * _share(need_memory, free_memory)
                + t3 * _share(need_gpu, free_gpu)
                + t4 * load
            )
            risk = alpha * max(0.0, predicted - time_left) + beta * load
            if risk < best_risk:
                best, best_risk = i, risk
        return best

    def placed(self, index: int, task: QueuedTaskView) -> None:
        asked = (task.request.cpu, task.request.memory_gb, float(task.request.gpu))
        usage = self.usage[index]
        for dim, (need, total) in enumerate(zip(asked, self.totals[index], strict=True)):
            if total > 0:
                usage[dim] = min(1.0, usage[dim] + need / total)
        del self.by_load[bisect.bisect_left(self.by_load, (self.load[index], index))]
        self.load[index] = self._load(index)
        bisect.insort(self.by_load, (self.load[index], index))

    def cursor(self) -> int:
        return self.snapshot.cursor


def _share(need: float, free: float) -> float:
    """The part of what is free that a task takes: 0 when it asks none, 1 when none is free."""
    if need <= 0:
        return 0.0
    if free <= 0:
        return 1.0
    return min(need / free, 1.0)


def _fraction(value: float) -> float:
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0
