"""Free capacity of the schedulable workers during one planning pass.

Kept as parallel lists of floats rather than `Resources` values: a policy scans them for
every task, and attribute access on lists is what makes 1,000 workers affordable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import repeat

from cloudai.domain.resources import Resources
from cloudai.scheduling.snapshot import WorkerView

# Same tolerance as Resources.fits_in: float sums of fractional cores must not make a
# task "not fit" by 1e-15.
EPSILON = 1e-9
NOT_RESERVED = -1

# (how many workers, their total, free cpu, memory, storage, gpu)
WorkerGroup = tuple[int, Resources, float, float, float, int]


class FreeCapacity:
    """Free resources per schedulable worker; placements subtract from them.

    Index `i` is a worker's place among the schedulable workers (snapshot order);
    `positions[i]` is its place in `snapshot.workers`. `bound` holds, per dimension, an
    upper bound of the largest free amount on any worker that is not reserved: a request
    above it fits nowhere now, which is answered without a scan.
    """

    __slots__ = (
        "bound",
        "changes",
        "cpu",
        "gpu",
        "grouped",
        "grouped_at",
        "ids",
        "index_of",
        "memory",
        "positions",
        "reserved",
        "storage",
        "totals",
    )

    def __init__(self, workers: Sequence[WorkerView]) -> None:
        # One look at each worker, then a column per field; the clamps are conditional
        # expressions, not max() calls (a pass per submit builds this for every worker).
        schedulable = [
            (p, w.worker_id, w.total, w.free) for p, w in enumerate(workers) if w.schedulable
        ]
        self.positions = [p for p, _, _, _ in schedulable]
        self.ids = [worker_id for _, worker_id, _, _ in schedulable]
        self.index_of = {worker_id: i for i, worker_id in enumerate(self.ids)}
        self.totals = [total for _, _, total, _ in schedulable]
        frees = [free for _, _, _, free in schedulable]
        self.cpu = [f.cpu if f.cpu > 0.0 else 0.0 for f in frees]
        self.memory = [f.memory_gb if f.memory_gb > 0.0 else 0.0 for f in frees]
        self.storage = [f.storage_gb if f.storage_gb > 0.0 else 0.0 for f in frees]
        self.gpu = [f.gpu if f.gpu > 0 else 0 for f in frees]
        self.reserved = NOT_RESERVED
        self.bound: tuple[float, float, float, int] = (0.0, 0.0, 0.0, 0)
        self.refresh_bound()
        self.changes = 0  # placements so far
        self.grouped: list[WorkerGroup] | None = None
        self.grouped_at = -1  # `changes` when `groups` was last asked for

    def __len__(self) -> int:
        return len(self.ids)

    def free(self, i: int) -> Resources:
        return Resources(self.cpu[i], self.memory[i], self.storage[i], self.gpu[i])

    def fits(self, i: int, request: Resources) -> bool:
        return (
            request.cpu <= self.cpu[i] + EPSILON
            and request.memory_gb <= self.memory[i] + EPSILON
            and request.storage_gb <= self.storage[i] + EPSILON
            and request.gpu <= self.gpu[i]
        )

    def above_bound(self, request: Resources) -> bool:
        """True when `request` certainly fits on no unreserved worker now."""
        cpu, memory, storage, gpu = self.bound
        return (
            request.cpu > cpu + EPSILON
            or request.memory_gb > memory + EPSILON
            or request.storage_gb > storage + EPSILON
            or request.gpu > gpu
        )

    def take(self, i: int, request: Resources) -> None:
        # Placements only shrink free capacity, so `bound` stays an upper bound.
        self.cpu[i] -= request.cpu
        self.memory[i] -= request.memory_gb
        self.storage[i] -= request.storage_gb
        self.gpu[i] -= request.gpu
        self.changes += 1

    def groups(self, only: int | None = None) -> Iterable[WorkerGroup]:
        """The schedulable workers (or worker `only`) as groups of those alike in total
        and free capacity. Asked again with no placement in between (as when nothing
        fits and every distinct request is refused in turn) the alike are counted once
        and kept; otherwise each worker is its own group, since counting costs more than
        one look at each."""
        if only is not None:
            i = only
            return [(1, self.totals[i], self.cpu[i], self.memory[i], self.storage[i], self.gpu[i])]
        columns = (self.totals, self.cpu, self.memory, self.storage, self.gpu)
        if self.grouped_at != self.changes:
            self.grouped, self.grouped_at = None, self.changes
            return zip(repeat(1, len(self)), *columns, strict=True)
        if self.grouped is None:
            alike = Counter(zip(*columns, strict=True))
            self.grouped = [(n, *worker) for worker, n in alike.items()]
        return self.grouped

    def reserve(self, i: int) -> None:
        self.reserved = i
        self.refresh_bound()

    def refresh_bound(self) -> None:
        """Recompute the exact per-dimension maxima over the unreserved workers."""
        self.bound = (
            self._max_unreserved(self.cpu),
            self._max_unreserved(self.memory),
            self._max_unreserved(self.storage),
            int(self._max_unreserved(self.gpu)),
        )

    def _max_unreserved(self, values: list[float] | list[int]) -> float:
        if self.reserved == NOT_RESERVED:
            return max(values, default=-1)
        before, after = values[: self.reserved], values[self.reserved + 1 :]
        return max(max(before, default=-1), max(after, default=-1))
