"""Tasks, their attempts, and the one state machine every status change goes through.

    queued ──> assigned ──> running ──> completed | failed | cancelled
      │           │            │
      │           └──> queued <┘        (attempt lost or refused; retried)
      └──> cancelled                     terminal states are final

A task has attempts; each attempt carries an epoch (fencing token). Reports for an
older epoch than the task's current one are rejected by the services.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

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
    ASSIGNED = "assigned"  # handed to the worker; nothing runs yet
    RUNNING = "running"  # the worker reported its container (or process) started
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUSED = "refused"  # the worker refused it or could not be reached
    LOST = "lost"  # the worker vanished or no longer has it
    INTERRUPTED = "interrupted"  # an operator stopped or drained the worker
    TIMED_OUT = "timed_out"

    @property
    def is_final(self) -> bool:
        return self not in (AttemptStatus.ASSIGNED, AttemptStatus.RUNNING)


_A = AttemptStatus
_ATTEMPT_ENDS = frozenset(s for s in AttemptStatus if s.is_final)
ATTEMPT_ALLOWED: frozenset[tuple[AttemptStatus, AttemptStatus]] = frozenset(
    {(_A.ASSIGNED, _A.RUNNING)}
    | {(_A.ASSIGNED, end) for end in _ATTEMPT_ENDS}
    | {(_A.RUNNING, end) for end in _ATTEMPT_ENDS - {_A.REFUSED}}  # a started run was accepted
)


class Failure(StrEnum):
    """Why an attempt did not succeed; it decides whether the task runs again."""

    EXIT = "exit"  # the task's own non-zero exit
    OOM = "oom"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    IMAGE = "image"  # image not found or unauthorised
    STORAGE = "storage"  # output storage full
    LOST = "lost"  # worker lost mid-run
    PULL_TIMEOUT = "pull_timeout"
    EXECUTOR = "executor"  # the worker's runtime failed (daemon error, crash)
    UNREACHABLE = "unreachable"  # the assignment never reached the worker, or it refused
    INTERRUPTED = "interrupted"  # an operator's stop or drain


def parse_failure(kind: str) -> Failure | None:
    """The failure a kind names; None for "" or a kind this version does not know (a
    newer peer's: the receiver classifies the attempt itself)."""
    try:
        return Failure(kind) if kind else None
    except ValueError:
        return None


class RetryRule(StrEnum):
    FINAL = "final"  # the task ends with this attempt
    COUNTED = "counted"  # runs again while retries remain
    FREE = "free"  # runs again without spending a retry


RETRY_RULE: dict[Failure, RetryRule] = {
    Failure.EXIT: RetryRule.FINAL,
    Failure.OOM: RetryRule.FINAL,
    Failure.TIMEOUT: RetryRule.FINAL,
    Failure.CANCELLED: RetryRule.FINAL,
    Failure.IMAGE: RetryRule.FINAL,
    Failure.STORAGE: RetryRule.FINAL,
    Failure.LOST: RetryRule.COUNTED,
    Failure.PULL_TIMEOUT: RetryRule.COUNTED,
    Failure.EXECUTOR: RetryRule.COUNTED,
    Failure.UNREACHABLE: RetryRule.FREE,
    Failure.INTERRUPTED: RetryRule.FREE,
}

DEFAULT_MAX_RETRIES = 3


@dataclass(frozen=True, slots=True)
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
    priority: int = 0  # higher first
    max_retries: int = DEFAULT_MAX_RETRIES
    retries: int = 0  # counted retries spent so far
    timeout_s: float | None = None  # a running attempt is stopped after this long
    env: Mapping[str, str] = field(default_factory=dict)
    target_worker_id: str | None = None  # only this worker may run it
    task_type: str = "mixed"  # one of sla.TASK_TYPES (inferred from the tag when needed)
    tau_s: float = 0.0  # the expected duration used for its deadline
    deadline: datetime | None = None  # created_at + k * tau_s
    sla_met: bool | None = None  # set when it ends (None: cancelled, or not ended)
    scheduler: str = ""  # the policy that placed its current (or last) attempt


@dataclass(frozen=True, slots=True)
class TaskEvent:
    task_id: str
    at: datetime
    from_status: TaskStatus | None
    to_status: TaskStatus
    reason: str
    epoch: int = 0


@dataclass(frozen=True, slots=True)
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


def transition(
    task: Task, to: TaskStatus, *, at: datetime, reason: str = "", **changes: Any
) -> tuple[Task, TaskEvent]:
    """The task moved to `to` (with `changes` to other fields) if the table allows it,
    and the event to record. Pure: `task` itself is left as it was."""
    if (task.status, to) not in ALLOWED:
        raise InvalidTransition(f"task {task.task_id}: {task.status} -> {to} is not allowed")
    epoch = changes.get("epoch", task.epoch)
    event = TaskEvent(task.task_id, at, task.status, to, reason, epoch)
    if to is TaskStatus.RUNNING and task.started_at is None:
        changes.setdefault("started_at", at)
    if to.is_terminal:
        changes.setdefault("finished_at", at)
    moved = replace(task, status=to, reason=reason, updated_at=at, **changes)
    return moved, event


def move_attempt(attempt: Attempt, to: AttemptStatus, **changes: Any) -> Attempt:
    """The attempt in its new status, if its table allows the change."""
    if (attempt.status, to) not in ATTEMPT_ALLOWED:
        raise InvalidTransition(
            f"attempt {attempt.task_id}/{attempt.epoch}: {attempt.status} -> {to} is not allowed"
        )
    return replace(attempt, status=to, **changes)


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
    priority: int = 0
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout_s: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    target_worker_id: str | None = None
    task_type: str = ""  # "" or not one of the six: inferred (the tag is kept as given)


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
    failure: Failure | None = None  # why it failed; None when it succeeded
    # The worker sent no upload: nothing to ship. False (an older worker): it uploaded.
    no_files: bool = False
