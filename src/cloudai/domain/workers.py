"""Workers as the master sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cloudai.domain.resources import Resources


class WorkerStatus(StrEnum):
    ACTIVE = "active"
    SUSPECT = "suspect"  # heartbeats late; no new work placed
    LOST = "lost"  # its attempts were ended as lost


class Eligibility(StrEnum):
    """What an operator allows a worker to take (liveness is `WorkerStatus`)."""

    OPEN = "open"  # takes new work
    DRAINING = "draining"  # runs what it has, takes nothing new; removed when empty
    CORDONED = "cordoned"  # runs what it has, takes nothing new, stays


@dataclass(frozen=True, slots=True)
class TaskUsage:
    """What one running attempt uses now, from its container's cgroup."""

    task_id: str
    epoch: int
    cpu: float  # cores in use (1.0: one whole core)
    memory_gb: float  # GiB of memory in use


@dataclass(frozen=True, slots=True)
class Usage:
    """Percentages 0-100 measured on the worker, and each running attempt's use (live
    only: not stored)."""

    cpu: float = 0.0
    memory: float = 0.0
    storage: float = 0.0
    gpu: float = 0.0
    tasks: tuple[TaskUsage, ...] = ()

    def of_task(self, task_id: str, epoch: int) -> TaskUsage | None:
        return next((t for t in self.tasks if (t.task_id, t.epoch) == (task_id, epoch)), None)


@dataclass(slots=True)
class Worker:
    worker_id: str
    address: str
    total: Resources
    status: WorkerStatus
    registered_at: datetime
    last_heartbeat: datetime
    usage: Usage = Usage()
    eligibility: Eligibility = Eligibility.OPEN
