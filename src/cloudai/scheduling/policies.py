"""round_robin, best_fit and spread: which fitting worker a task goes to.

Each keeps what it needs to answer in far fewer steps than a scan of every worker:
round_robin resumes where it stopped, best_fit and spread keep the workers sorted by their
own criterion and stop at the first one that fits.
"""

from __future__ import annotations

import bisect

from cloudai.domain.sla import CORES_PER_GPU, MEMORY_GB_PER_CORE, resource_weight
from cloudai.scheduling.capacity import EPSILON, FreeCapacity
from cloudai.scheduling.snapshot import QueuedTaskView, Snapshot


class RoundRobin:
    """The seed's policy: the next fitting worker after the last one used, in snapshot
    order, resuming from `snapshot.cursor` (an index into `snapshot.workers`)."""

    def start(self, snapshot: Snapshot, capacity: FreeCapacity) -> _RoundRobinPass:
        return _RoundRobinPass(snapshot, capacity)


class _RoundRobinPass:
    def __init__(self, snapshot: Snapshot, capacity: FreeCapacity) -> None:
        self.capacity = capacity
        self.next_cursor = snapshot.cursor
        start = snapshot.cursor % len(snapshot.workers) if snapshot.workers else 0
        self.next = bisect.bisect_left(capacity.positions, start)
        if self.next >= len(capacity):
            self.next = 0

    def choose(self, task: QueuedTaskView) -> int | None:
        c = self.capacity
        cpu, memory, storage, gpu, reserved = c.cpu, c.memory, c.storage, c.gpu, c.reserved
        request = task.request
        need_cpu, need_memory = request.cpu - EPSILON, request.memory_gb - EPSILON
        need_storage, need_gpu = request.storage_gb - EPSILON, request.gpu
        count = len(cpu)
        i = self.next
        for _ in range(count):
            if (
                cpu[i] >= need_cpu
                and memory[i] >= need_memory
                and storage[i] >= need_storage
                and gpu[i] >= need_gpu
                and i != reserved
            ):
                return i
            i += 1
            if i == count:
                i = 0
        return None

    def placed(self, index: int, task: QueuedTaskView) -> None:
        if task.target_worker_id is None:  # a pinned task does not move the rotation
            self.next = index + 1 if index + 1 < len(self.capacity) else 0
            self.next_cursor = self.capacity.positions[index] + 1

    def cursor(self) -> int:
        return self.next_cursor


def _free_weight(c: FreeCapacity, i: int) -> float:
    return c.cpu[i] + c.memory[i] / MEMORY_GB_PER_CORE + CORES_PER_GPU * c.gpu[i]


class _SortedChoice:
    """Workers kept sorted by a key; the first fitting one from a start key wins."""

    def __init__(self, capacity: FreeCapacity, cursor: int) -> None:
        self.capacity = capacity
        self.carried_cursor = cursor  # kept for round_robin's next pass
        self.keys = [self.key(i) for i in range(len(capacity))]
        self.order = sorted(self.keys)

    def key(self, i: int) -> tuple[float, float, int]:
        raise NotImplementedError

    def first_key(self, task: QueuedTaskView) -> tuple[float, float, int]:
        return (-1.0, -1.0, -1)

    def choose(self, task: QueuedTaskView) -> int | None:
        c = self.capacity
        cpu, memory, storage, gpu, reserved = c.cpu, c.memory, c.storage, c.gpu, c.reserved
        request = task.request
        need_cpu, need_memory = request.cpu - EPSILON, request.memory_gb - EPSILON
        need_storage, need_gpu = request.storage_gb - EPSILON, request.gpu
        order = self.order
        for k in range(bisect.bisect_left(order, self.first_key(task)), len(order)):
            i = order[k][2]
            if (
                cpu[i] >= need_cpu
                and memory[i] >= need_memory
                and storage[i] >= need_storage
                and gpu[i] >= need_gpu
                and i != reserved
            ):
                return i
        return None

    def placed(self, index: int, task: QueuedTaskView) -> None:
        old = self.keys[index]
        del self.order[bisect.bisect_left(self.order, old)]
        self.keys[index] = new = self.key(index)
        bisect.insort(self.order, new)

    def cursor(self) -> int:
        return self.carried_cursor


class BestFit:
    """Bin-packing: the fitting worker left with the least free capacity after placement,
    counted first in GPUs, then in weighted cores (domain.sla.resource_weight). GPUs come
    first so that CPU-only work fills CPU-only workers and GPUs stay free for GPU tasks."""

    def start(self, snapshot: Snapshot, capacity: FreeCapacity) -> _BestFitPass:
        return _BestFitPass(capacity, snapshot.cursor)


class _BestFitPass(_SortedChoice):
    def key(self, i: int) -> tuple[float, float, int]:
        return (float(self.capacity.gpu[i]), _free_weight(self.capacity, i), i)

    def first_key(self, task: QueuedTaskView) -> tuple[float, float, int]:
        # Leftover = free - request, so the least leftover is the least free that fits;
        # a worker with fewer GPUs or less weighted capacity cannot fit.
        return (float(task.request.gpu), resource_weight(task.request) - 1e-6, -1)


class Spread:
    """The least allocated fitting worker: the lowest share of its total (weighted
    cores, domain.sla.resource_weight) already taken."""

    def start(self, snapshot: Snapshot, capacity: FreeCapacity) -> _SpreadPass:
        return _SpreadPass(capacity, snapshot.cursor)


class _SpreadPass(_SortedChoice):
    def __init__(self, capacity: FreeCapacity, cursor: int) -> None:
        self.total_weight = [resource_weight(total) for total in capacity.totals]
        super().__init__(capacity, cursor)

    def key(self, i: int) -> tuple[float, float, int]:
        total = self.total_weight[i]
        allocated = 1.0 - _free_weight(self.capacity, i) / total if total > 0 else 1.0
        return (allocated, 0.0, i)
