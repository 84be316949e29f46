"""What a scheduling policy sees and what it answers: plain, frozen values.

The master builds a `Snapshot` (workers with their free capacity, the queued tasks,
the running ones, users' recent usage, learned task durations); a policy is a pure
function of it that returns a `Plan`. Times are seconds since the Unix epoch, given in
the snapshot: no policy reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from cloudai.domain.resources import Resources


@dataclass(frozen=True, slots=True)
class WorkerView:
    worker_id: str
    total: Resources
    free: Resources  # total minus what the attempts it holds asked for (never below zero)
    # False for a draining or cordoned worker: it keeps what it runs and takes nothing
    # new. Such workers still count when deciding whether a task could ever fit.
    schedulable: bool = True
    # Measured load as fractions 0..1 (from heartbeats), for load-aware policies.
    cpu_load: float = 0.0
    memory_load: float = 0.0
    gpu_load: float = 0.0


@dataclass(frozen=True, slots=True)
class QueuedTaskView:
    task_id: str
    user_id: str
    request: Resources
    submitted_at: float
    priority: int = 0  # higher first
    task_type: str = "mixed"  # one of domain.sla.TASK_TYPES (already inferred)
    k_value: float = 2.0  # SLA multiplier: deadline = submitted_at + k * tau(type)
    target_worker_id: str | None = None  # only this worker may take it


@dataclass(frozen=True, slots=True)
class RunningView:
    task_id: str
    worker_id: str
    user_id: str
    request: Resources
    started_at: float
    task_type: str = "mixed"


@dataclass(frozen=True, slots=True)
class Snapshot:
    now: float
    workers: tuple[WorkerView, ...]
    # Every queued task, in submit order (oldest first); policies order it themselves.
    queue: tuple[QueuedTaskView, ...]
    running: tuple[RunningView, ...] = ()
    # Each user's recent usage (resource-seconds, decayed), for fair share.
    usage: Mapping[str, float] = field(default_factory=dict)
    # Learned mean duration per task type, seconds (domain.sla.DEFAULT_TAU when unknown).
    tau: Mapping[str, float] = field(default_factory=dict)
    # Round-robin position carried from the previous pass.
    cursor: int = 0
    # Most tasks one user may have running at once (None: no limit).
    max_running_per_user: int | None = None
    # Requests no registered worker could ever fit, with their reason: queued tasks not
    # pinned to a worker that ask for one are left out of `queue` (feasibility.py).
    never_fit: Mapping[Resources, str] = field(default_factory=dict)
    # Workers queued tasks are pinned to that are not registered: those tasks are left
    # out of `queue` too (reasons.target_not_registered) until the worker joins.
    absent_targets: frozenset[str] = frozenset()
    # The ids of the queued tasks so left out, oldest first (they queue behind the rest).
    left_out: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Placement:
    task_id: str
    worker_id: str


@dataclass(slots=True)
class Plan:
    placements: list[Placement] = field(default_factory=list)
    # Every queued task that was not placed, and why it waits (shown to its user).
    pending: dict[str, str] = field(default_factory=dict)
    # 1-based position of every queued task in the order the policy considered them.
    positions: dict[str, int] = field(default_factory=dict)
    # Head-of-line reservations: task id -> the worker kept for it.
    reservations: dict[str, str] = field(default_factory=dict)
    cursor: int = 0


class Scheduler(Protocol):
    """A named placement policy: a pure function of the snapshot."""

    name: str

    def plan(self, snapshot: Snapshot) -> Plan: ...
