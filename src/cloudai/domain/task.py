"""Tasks, their attempts, and the one state machine every status change goes through.

    queued ──> assigned ──> running ──> completed | failed | cancelled
      │           │            │
      │           └──> queued <┘        (attempt lost or refused; retried)
      └──> cancelled                     terminal states are final

A task has attempts; each attempt carries an epoch (fencing token). Reports for an
older epoch than the task's current one are rejected by the services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cloudai.domain.errors import InvalidTransition
from cloudai.domain.resources import Resources


class TaskStatus(StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def holds_resources(self) -> bool:
        return self in HOLDING


TERMINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})
HOLDING = frozenset({TaskStatus.ASSIGNED, TaskStatus.RUNNING})  # an attempt holds resources

_S = TaskStatus
ALLOWED: frozenset[tuple[TaskStatus, TaskStatus]] = frozenset(
    {
        (_S.QUEUED, _S.ASSIGNED),
        (_S.QUEUED, _S.CANCELLED),
        (_S.ASSIGNED, _S.RUNNING),
        (_S.ASSIGNED, _S.QUEUED),  # the worker refused or could not be reached
        (_S.ASSIGNED, _S.COMPLETED),  # a fast task may report before its start is seen
        (_S.ASSIGNED, _S.FAILED),
        (_S.ASSIGNED, _S.CANCELLED),
        (_S.RUNNING, _S.QUEUED),  # the worker was lost and retries remain
        (_S.RUNNING, _S.COMPLETED),
        (_S.RUNNING, _S.FAILED),
        (_S.RUNNING, _S.CANCELLED),
    }
)


class AttemptStatus(StrEnum):
    ASSIGNED = "assigned"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUSED = "refused"
    LOST = "lost"


@dataclass(slots=True)
class Task:
    task_id: str
    user_id: str
    name: str
    docker_image: str
    command: str | list[str] | None
    request: Resources
    tag: str
    k_value: float
    created_at: datetime
    updated_at: datetime
    status: TaskStatus = TaskStatus.QUEUED
    reason: str = ""
    epoch: int = 0
    worker_id: str | None = None
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TaskEvent:
    task_id: str
    at: datetime
    from_status: TaskStatus | None
    to_status: TaskStatus
    reason: str
    epoch: int = 0


@dataclass(slots=True)
class Attempt:
    task_id: str
    epoch: int
    worker_id: str
    assigned_at: datetime
    status: AttemptStatus = AttemptStatus.ASSIGNED
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TaskResult:
    """The final outcome of a task, kept once per task (its last attempt)."""

    task_id: str
    epoch: int
    worker_id: str
    status: TaskStatus
    exit_code: int | None
    reason: str
    log_size: int
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class OutputFile:
    path: str
    size: int
    sha256: str


def transition(task: Task, to: TaskStatus, *, at: datetime, reason: str = "") -> TaskEvent:
    """Move `task` to `to` (in place) if the table allows it; return the event to record."""
    if (task.status, to) not in ALLOWED:
        raise InvalidTransition(f"task {task.task_id}: {task.status} -> {to} is not allowed")
    event = TaskEvent(task.task_id, at, task.status, to, reason, task.epoch)
    task.status = to
    task.reason = reason
    task.updated_at = at
    if to is TaskStatus.RUNNING and task.started_at is None:
        task.started_at = at
    if to.is_terminal:
        task.finished_at = at
    return event


def submitted_event(task: Task) -> TaskEvent:
    return TaskEvent(task.task_id, task.created_at, None, TaskStatus.QUEUED, "submitted", 0)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What a user asks for; validated at the boundary that received it."""

    docker_image: str
    command: str | list[str] | None
    request: Resources
    tag: str = ""
    k_value: float = 2.0
    name: str = ""


@dataclass(frozen=True, slots=True)
class AttemptReport:
    """A worker's account of how an attempt ended."""

    task_id: str
    epoch: int
    worker_id: str
    outcome: TaskStatus  # COMPLETED, FAILED or CANCELLED
    exit_code: int | None
    reason: str
    oom_killed: bool
    log_size: int
