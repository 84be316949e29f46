"""round_robin, best_fit and spread: which fitting worker a task goes to.

Free capacity only shrinks within a pass, so a worker once too small for a request stays
too small for it until the pass ends. Each policy therefore keeps, per distinct request
(up to CANDIDATE_LISTS of them), the workers that may still fit it, and drops a worker
from them for good the first time it does not fit: a pass costs about one look at each
worker per distinct request, plus one per placement, instead of a scan per task. Requests
beyond that many distinct ones fall back to a scan of every worker.
"""

from __future__ import annotations

import bisect
import heapq

from cloudai.domain.resources import Resources
from cloudai.domain.sla import CORES_PER_GPU, MEMORY_GB_PER_CORE, resource_weight
from cloudai.scheduling.capacity import EPSILON, FreeCapacity
from cloudai.scheduling.snapshot import QueuedTaskView, Snapshot

CANDIDATE_LISTS = 64


def fitting(capacity: FreeCapacity, request: Resources) -> list[int]:
    """Indexes of the unreserved workers whose free capacity fits `request`, in order."""
    cpu, memory, storage, gpu = capacity.cpu, capacity.memory, capacity.storage, capacity.gpu
    need_cpu, need_memory = request.cpu - EPSILON, request.memory_gb - EPSILON
    need_storage, need_gpu, reserved = request.storage_gb - EPSILON, request.gpu, capacity.reserved
    return [
        i
        for i in range(len(cpu))
        if cpu[i] >= need_cpu
        and memory[i] >= need_memory
        and storage[i] >= need_storage
        and gpu[i] >= need_gpu
        and i != reserved
    ]


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
        self.candidates: dict[Resources, list[int]] = {}

    def choose(self, task: QueuedTaskView) -> int | None:
        request = task.request
        candidates = self.candidates.get(request)
        if candidates is None:
            if len(self.candidates) >= CANDIDATE_LISTS:
                candidates = fitting(self.capacity, request)  # not kept
            else:
                candidates = self.candidates[request] = fitting(self.capacity, request)
        c = self.capacity
        cpu, memory, storage, gpu, reserved = c.cpu, c.memory, c.storage, c.gpu, c.reserved
        need_cpu, need_memory = request.cpu - EPSILON, request.memory_gb - EPSILON
        need_storage, need_gpu = request.storage_gb - EPSILON, request.gpu
        k = bisect.bisect_left(candidates, self.next)
        while candidates:
            if k >= len(candidates):
                k = 0
            i = candidates[k]
            if (
                cpu[i] >= need_cpu
                and memory[i] >= need_memory
                and storage[i] >= need_storage
                and gpu[i] >= need_gpu
                and i != reserved
            ):
                return i
            del candidates[k]  # too small for this request for the rest of the pass
        return None

    def placed(self, index: int, task: QueuedTaskView) -> None:
        if task.target_worker_id is None:  # a pinned task does not move the rotation
            self.next = index + 1
            self.next_cursor = self.capacity.positions[index] + 1

    def cursor(self) -> int:
        return self.next_cursor


def _free_weight(c: FreeCapacity, i: int) -> float:
    return c.cpu[i] + c.memory[i] / MEMORY_GB_PER_CORE + CORES_PER_GPU * c.gpu[i]


class _Heap:
    __slots__ = ("entries", "synced")

    def __init__(self, entries: list[tuple[float, float, int]], synced: int) -> None:
        heapq.heapify(entries)
        self.entries = entries
        self.synced = synced  # how much of the placement log it has seen


class _LeastKeyChoice:
    """The fitting worker with the least key; a worker's key changes only when a task is
    placed on it. Per distinct request, a heap of the workers that fitted it: outdated
    entries are skipped, a worker that no longer fits is dropped, and a worker whose key
    changed is pushed again, once, when that request is next asked for (best_fit places
    many tasks in a row on one worker)."""

    def __init__(self, capacity: FreeCapacity, cursor: int) -> None:
        self.capacity = capacity
        self.carried_cursor = cursor  # kept for round_robin's next pass
        self.keys = [self.key(i) for i in range(len(capacity))]
        self.heaps: dict[Resources, _Heap] = {}
        self.placements: list[int] = []  # worker index of each placement, in order

    def key(self, i: int) -> tuple[float, float, int]:
        raise NotImplementedError

    def choose(self, task: QueuedTaskView) -> int | None:
        request = task.request
        heap = self.heaps.get(request)
        if heap is None:
            entries = [self.keys[i] for i in fitting(self.capacity, request)]
            if len(self.heaps) >= CANDIDATE_LISTS:
                return min(entries)[2] if entries else None
            heap = self.heaps[request] = _Heap(entries, len(self.placements))
        elif heap.synced < len(self.placements):
            self._catch_up(request, heap)
        c, keys, entries = self.capacity, self.keys, heap.entries
        cpu, memory, storage, gpu, reserved = c.cpu, c.memory, c.storage, c.gpu, c.reserved
        need_cpu, need_memory = request.cpu - EPSILON, request.memory_gb - EPSILON
        need_storage, need_gpu = request.storage_gb - EPSILON, request.gpu
        while entries:
            key = entries[0]
            i = key[2]
            if (
                key == keys[i]
                and cpu[i] >= need_cpu
                and memory[i] >= need_memory
                and storage[i] >= need_storage
                and gpu[i] >= need_gpu
                and i != reserved
            ):
                return i
            heapq.heappop(entries)  # an outdated key, or too small for good
        return None

    def _catch_up(self, request: Resources, heap: _Heap) -> None:
        c = self.capacity
        for i in set(self.placements[heap.synced :]):
            if (
                request.cpu <= c.cpu[i] + EPSILON
                and request.memory_gb <= c.memory[i] + EPSILON
                and request.storage_gb <= c.storage[i] + EPSILON
                and request.gpu <= c.gpu[i]
            ):
                heapq.heappush(heap.entries, self.keys[i])
        heap.synced = len(self.placements)

    def placed(self, index: int, task: QueuedTaskView) -> None:
        self.keys[index] = self.key(index)
        self.placements.append(index)

    def cursor(self) -> int:
        return self.carried_cursor


class BestFit:
    """Bin-packing: the fitting worker left with the least free capacity after placement,
    counted first in GPUs, then in weighted cores (domain.sla.resource_weight). GPUs come
    first so that CPU-only work fills CPU-only workers and GPUs stay free for GPU tasks."""

    def start(self, snapshot: Snapshot, capacity: FreeCapacity) -> _BestFitPass:
        return _BestFitPass(capacity, snapshot.cursor)


class _BestFitPass(_LeastKeyChoice):
    def key(self, i: int) -> tuple[float, float, int]:
        # Leftover = free - request, so the least leftover is the least free that fits.
        return (float(self.capacity.gpu[i]), _free_weight(self.capacity, i), i)


class Spread:
    """The least allocated fitting worker: the lowest share of its total (weighted
    cores, domain.sla.resource_weight) already taken."""

    def start(self, snapshot: Snapshot, capacity: FreeCapacity) -> _SpreadPass:
        return _SpreadPass(capacity, snapshot.cursor)


class _SpreadPass(_LeastKeyChoice):
    def __init__(self, capacity: FreeCapacity, cursor: int) -> None:
        self.total_weight = [resource_weight(total) for total in capacity.totals]
        super().__init__(capacity, cursor)

    def key(self, i: int) -> tuple[float, float, int]:
        total = self.total_weight[i]
        allocated = 1.0 - _free_weight(self.capacity, i) / total if total > 0 else 1.0
        return (allocated, 0.0, i)
