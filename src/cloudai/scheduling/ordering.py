"""Queue order: priority, then fair share between users, then submit order.

Within one priority level the next task comes from the user with the least usage: their
recent decayed usage from the snapshot plus a notional charge for each of their tasks
already ordered in this pass (the task's request weight times τ of its type, i.e. the
resource-seconds it is expected to use). So two users with equal usage interleave, and a
light user's task goes ahead of a heavy user's backlog. Charges carry over to lower
priority levels. Ties between users go to the one whose next task was submitted first.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping, Sequence

from cloudai.domain.sla import resource_weight, tau_for
from cloudai.scheduling.snapshot import QueuedTaskView

# A task that asks for nothing still costs something, so such tasks interleave too.
MIN_NOTIONAL_WEIGHT = 0.01

_UserQueues = dict[str, deque[tuple[int, QueuedTaskView]]]


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
    levels: dict[int, _UserQueues] = {}
    for index, task in enumerate(queue):
        users = levels.setdefault(task.priority, {})
        users.setdefault(task.user_id, deque()).append((index, task))
    charged = {user: float(amount) for user, amount in usage.items()}
    ordered: list[QueuedTaskView] = []
    for priority in sorted(levels, reverse=True):
        _interleave(levels[priority], charged, tau, ordered)
    return ordered


def _interleave(
    users: _UserQueues,
    charged: dict[str, float],
    tau: Mapping[str, float],
    ordered: list[QueuedTaskView],
) -> None:
    if len(users) == 1:  # one user: submit order, but charges still accrue
        (user, tasks), *_ = users.items()
        for _, task in tasks:
            ordered.append(task)
            charged[user] = charged.get(user, 0.0) + notional_charge(task, tau)
        return
    heap = [(charged.get(user, 0.0), tasks[0][0], user) for user, tasks in users.items()]
    heapq.heapify(heap)
    while heap:
        _, _, user = heapq.heappop(heap)
        tasks = users[user]
        _, task = tasks.popleft()
        ordered.append(task)
        charged[user] = charged.get(user, 0.0) + notional_charge(task, tau)
        if tasks:
            heapq.heappush(heap, (charged[user], tasks[0][0], user))
