"""Queue order: priority, then fair share between users, then submit order.

Within one priority level the next task comes from the user with the least usage: their
recent decayed usage from the snapshot plus a notional charge for each of their tasks
already ordered in this pass (the task's request weight times τ of its type, i.e. the
resource-seconds it is expected to use). So two users with equal usage interleave, and a
light user's task goes ahead of a heavy user's backlog. Charges carry over to lower
priority levels. Ties between users go to the one whose next task was submitted first.

Every pass orders the whole queue, so this runs once per queued task per pass: tasks are
kept as their queue indexes, a charge is computed once per distinct type and request, and
the heap is updated in place (one sift per task instead of a pop and a push).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

from cloudai.domain.sla import resource_weight, tau_for
from cloudai.scheduling.snapshot import QueuedTaskView

# A task that asks for nothing still costs something, so such tasks interleave too.
MIN_NOTIONAL_WEIGHT = 0.01

# Per priority level, per user: the queue indexes of their tasks, oldest first.
_Level = dict[str, list[int]]


def notional_charge(task: QueuedTaskView, tau: Mapping[str, float]) -> float:
    """The resource-seconds a queued task is expected to use once started."""
    weight = max(resource_weight(task.request), MIN_NOTIONAL_WEIGHT)
    return weight * tau_for(task.task_type, tau)


def order_queue(
    queue: Sequence[QueuedTaskView],
    usage: Mapping[str, float],
    tau: Mapping[str, float],
) -> list[QueuedTaskView]:
    """The queue (given oldest first) in the order a pass considers it."""
    levels: dict[int, _Level] = {}
    for index, task in enumerate(queue):
        users = levels.get(task.priority)
        if users is None:
            users = levels[task.priority] = {}
        indexes = users.get(task.user_id)
        if indexes is None:
            users[task.user_id] = [index]
        else:
            indexes.append(index)
    charges = _charges(queue, tau)
    charged = {user: float(amount) for user, amount in usage.items()}
    order: list[int] = []
    for priority in sorted(levels, reverse=True):
        _interleave(levels[priority], charges, charged, order)
    return [queue[index] for index in order]


def _charges(queue: Sequence[QueuedTaskView], tau: Mapping[str, float]) -> list[float]:
    """`notional_charge` of every queued task, in queue order, computed once per type and
    request (few distinct ones, looked up by their values: cheaper than the sums)."""
    known: dict[tuple[str, float, float, float, int], float] = {}
    charges = []
    for task in queue:
        r = task.request
        key = (task.task_type, r.cpu, r.memory_gb, r.storage_gb, r.gpu)
        charge = known.get(key)
        if charge is None:
            charge = known[key] = notional_charge(task, tau)
        charges.append(charge)
    return charges


def _interleave(
    users: _Level, charges: list[float], charged: dict[str, float], order: list[int]
) -> None:
    if len(users) == 1:  # one user: submit order, but charges still accrue
        (user, indexes), *_ = users.items()
        total = charged.get(user, 0.0)
        for index in indexes:
            total += charges[index]
        order.extend(indexes)
        charged[user] = total
        return
    # (user's charge so far, queue index of their next task, user, that task's place
    # in their list); queue indexes are unique, so the last two never decide.
    heap = [(charged.get(user, 0.0), indexes[0], user, 0) for user, indexes in users.items()]
    heapq.heapify(heap)
    while heap:
        charge, index, user, place = heap[0]
        order.append(index)
        charge += charges[index]
        place += 1
        indexes = users[user]
        if place < len(indexes):
            heapq.heapreplace(heap, (charge, indexes[place], user, place))
        else:
            heapq.heappop(heap)
            charged[user] = charge
