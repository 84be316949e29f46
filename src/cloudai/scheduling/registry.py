"""The built-in schedulers by name (the master adds `agent` on top of these)."""

from __future__ import annotations

from cloudai.scheduling.engine import Policy, PolicyScheduler
from cloudai.scheduling.policies import BestFit, RoundRobin, Spread
from cloudai.scheduling.rts import Rts, RtsParams
from cloudai.scheduling.snapshot import Scheduler

SCHEDULER_NAMES: tuple[str, ...] = ("round_robin", "best_fit", "spread", "rts")


def make_scheduler(name: str, *, rts: RtsParams | None = None) -> Scheduler:
    """The scheduler called `name`; `rts` tunes the rts policy (ignored by the others).

    Raises ValueError naming the known schedulers when `name` is not one of them.
    """
    policy: Policy
    if name == "round_robin":
        policy = RoundRobin()
    elif name == "best_fit":
        policy = BestFit()
    elif name == "spread":
        policy = Spread()
    elif name == "rts":
        policy = Rts(rts)
    else:
        raise ValueError(f"unknown scheduler {name!r}; known: {', '.join(SCHEDULER_NAMES)}")
    return PolicyScheduler(name, policy)
