"""The planning pass every policy shares; a policy only picks a worker among those that fit.

Rules, whatever the policy:
- only schedulable workers take new work; a placed task consumes free capacity within
  the pass; `target_worker_id` restricts a task to that worker;
- a user with `max_running_per_user` tasks running or placed in this pass gets nothing more;
- head-of-line reservation: the first task in queue order that could fit some schedulable
  worker's total but fits on none now reserves the worker where it will fit soonest (a
  pinned task: its target), and later tasks use only the other workers; those that would
  have fitted on it wait "behind a reserved task". At most one reservation per pass: each one
  idles capacity, and one is enough for progress, since the reserved task is placed
  as soon as its worker frees up and the next blocked task then becomes the head. Tasks
  that can never fit and users at their cap reserve nothing;
- every task not placed gets a reason, and every queued task a 1-based position.

Unplaceable tasks stay cheap: a request above the largest free amount of any worker is
refused without a scan, and a request that found no worker once in a pass is refused
again at once (capacity only shrinks within a pass), its reason computed once. So is a
request no schedulable worker's total fits. Such settled requests are looked up by their
values as a plain tuple: hashing and comparing `Resources` runs in Python, three times
slower, and a pass with nothing free does little else per task.
"""

from __future__ import annotations

from collections import Counter
from enum import Enum
from typing import Protocol

from cloudai.domain.resources import Resources
from cloudai.domain.sla import tau_for
from cloudai.scheduling import reasons
from cloudai.scheduling.capacity import FreeCapacity
from cloudai.scheduling.ordering import order_queue
from cloudai.scheduling.reservation import soonest_fit
from cloudai.scheduling.snapshot import Placement, Plan, QueuedTaskView, Snapshot

# A request's values (cpu, memory, storage, gpu): equal exactly when the requests are.
RequestKey = tuple[float, float, float, int]


class Chooser(Protocol):
    """A policy's state for one pass."""

    def choose(self, task: QueuedTaskView) -> int | None:
        """A worker index (never `capacity.reserved`) whose free capacity fits the task,
        or None when none does."""

    def placed(self, index: int, task: QueuedTaskView) -> None:
        """The task was placed on `index` (its capacity already taken)."""

    def cursor(self) -> int:
        """The cursor to carry to the next pass."""


class Policy(Protocol):
    def start(self, snapshot: Snapshot, capacity: FreeCapacity) -> Chooser: ...


class Reach(Enum):
    NEVER = "never"  # no registered worker's total fits
    ONLY_UNSCHEDULABLE = "only unschedulable"
    SCHEDULABLE = "schedulable"


class PolicyScheduler:
    """A `Scheduler`: the shared pass with a named policy's worker choice."""

    def __init__(self, name: str, policy: Policy) -> None:
        self.name = name
        self.policy = policy

    def plan(self, snapshot: Snapshot) -> Plan:
        return PlanningPass(snapshot, self.policy).run()


class PlanningPass:
    def __init__(self, snapshot: Snapshot, policy: Policy) -> None:
        self.snapshot = snapshot
        self.capacity = FreeCapacity(snapshot.workers)
        self.chooser = policy.start(snapshot, self.capacity)
        self.registered = {w.worker_id: w for w in snapshot.workers}
        self.running = Counter(r.user_id for r in snapshot.running)
        self.plan = Plan(cursor=snapshot.cursor)
        self.reach: dict[RequestKey, Reach] = {}
        self.refused: dict[RequestKey, str] = {}  # request -> shortage reason, this pass
        # Requests decided for the rest of the pass (refused, or never fitting a
        # schedulable worker), with their reason: only the shortcut `_consider` takes
        # (`refused` is what the long way reads), so it can be checked against it.
        self.settled: dict[RequestKey, str] = {}
        self.reserved_task: str | None = None
        self.placed_here: list[tuple[int, QueuedTaskView]] = []

    def run(self) -> Plan:
        ordered = order_queue(self.snapshot.queue, self.snapshot.usage, self.snapshot.tau)
        ids = [task.task_id for task in ordered]
        self.plan.positions.update(zip(ids, range(1, len(ids) + 1), strict=True))
        pending, consider = self.plan.pending, self._consider
        for task in ordered:
            reason = consider(task)
            if reason is not None:
                pending[task.task_id] = reason
        self.plan.cursor = self.chooser.cursor()
        return self.plan

    def _consider(self, task: QueuedTaskView) -> str | None:
        """Place `task` or say why it waits."""
        if not self.snapshot.workers:
            return reasons.NO_WORKER
        limit = self.snapshot.max_running_per_user
        if limit is not None and self.running[task.user_id] >= limit:
            return reasons.user_cap(limit)
        if task.target_worker_id is not None:
            return self._consider_targeted(task, task.target_worker_id)
        request = task.request
        key = (request.cpu, request.memory_gb, request.storage_gb, request.gpu)
        settled = self.settled.get(key)
        if settled is not None:
            return settled
        return self._decide(task, key)

    def _decide(self, task: QueuedTaskView, key: RequestKey) -> str | None:
        """Place a task not pinned to a worker, or say why it waits, the long way."""
        request = task.request
        reach = self._reach(request, key)
        if reach is not Reach.SCHEDULABLE:
            why = (
                reasons.ONLY_UNSCHEDULABLE
                if reach is Reach.ONLY_UNSCHEDULABLE
                else reasons.never_fits(request, self.snapshot.workers)
            )
            self.settled[key] = why  # the totals do not change within a pass
            return why
        if self.capacity.above_bound(request):
            return self._wait(task, key)
        index = self.chooser.choose(task)
        if index is None:
            # A full scan found nothing: tighten the bound so the like fail fast.
            self.capacity.refresh_bound()
            return self._wait(task, key)
        self._commit(task, index)
        return None

    def _consider_targeted(self, task: QueuedTaskView, worker_id: str) -> str | None:
        worker = self.registered.get(worker_id)
        if worker is None:
            return reasons.target_not_registered(worker_id)
        if not worker.schedulable:
            return reasons.target_not_schedulable(worker_id)
        if not task.request.fits_in(worker.total):
            return reasons.target_never_fits(task.request, worker)
        index = self.capacity.index_of[worker_id]
        if index == self.capacity.reserved:
            assert self.reserved_task is not None  # a reserved worker has its task
            return reasons.behind_reservation(self.reserved_task)
        if not self.capacity.fits(index, task.request):
            return self._wait(task, None, index)
        self._commit(task, index)
        return None

    def _commit(self, task: QueuedTaskView, index: int) -> None:
        self.capacity.take(index, task.request)
        self.chooser.placed(index, task)
        self.plan.placements.append(Placement(task.task_id, self.capacity.ids[index]))
        self.running[task.user_id] += 1
        self.placed_here.append((index, task))

    def _wait(self, task: QueuedTaskView, key: RequestKey | None, target: int | None = None) -> str:
        """The reason a task that fits no free capacity now waits (`key`: its request's,
        when it is not pinned to worker `target`); the first such task of the pass
        reserves a worker."""
        capacity, request = self.capacity, task.request
        if self.reserved_task is None:
            return self._reserve(task, key, target)
        if key is None:
            return reasons.shortage(request, capacity, target)
        why = self.refused.get(key)
        if why is None:
            # Stable for the pass: the reserved worker takes nothing more.
            if capacity.fits(capacity.reserved, request):
                why = reasons.behind_reservation(self.reserved_task)
            else:
                why = reasons.shortage(request, capacity)
            self.refused[key] = why
        self.settled[key] = why
        return why

    def _reserve(self, task: QueuedTaskView, key: RequestKey | None, target: int | None) -> str:
        capacity, request = self.capacity, task.request
        why = reasons.shortage(request, capacity, target)
        candidates = range(len(capacity)) if target is None else (target,)
        chosen = soonest_fit(request, capacity, candidates, self._releases())
        if key is not None:
            self.refused[key] = self.settled[key] = why
        if chosen is None:  # unreachable: the caller checked some total fits
            return why
        self.reserved_task = task.task_id
        capacity.reserve(chosen)
        self.plan.reservations[task.task_id] = capacity.ids[chosen]
        return f"{why}; {reasons.reserved_for_it(capacity.ids[chosen])}"

    def _reach(self, request: Resources, key: RequestKey) -> Reach:
        known = self.reach.get(key)
        if known is None:
            known = Reach.NEVER
            for worker in self.snapshot.workers:
                if request.fits_in(worker.total):
                    if worker.schedulable:
                        known = Reach.SCHEDULABLE
                        break
                    known = Reach.ONLY_UNSCHEDULABLE
            self.reach[key] = known
        return known

    def _releases(self) -> dict[int, list[tuple[float, Resources]]]:
        """Expected end and request of what each schedulable worker runs (see reservation)."""
        now, tau = self.snapshot.now, self.snapshot.tau
        releases: dict[int, list[tuple[float, Resources]]] = {}
        for run in self.snapshot.running:
            index = self.capacity.index_of.get(run.worker_id)
            if index is not None:
                end = max(run.started_at + tau_for(run.task_type, tau), now)
                releases.setdefault(index, []).append((end, run.request))
        for index, task in self.placed_here:
            end = now + tau_for(task.task_type, tau)
            releases.setdefault(index, []).append((end, task.request))
        return releases
