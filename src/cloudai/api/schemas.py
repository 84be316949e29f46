"""The REST contract: request and response bodies. Keys follow the reference API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cloudai.domain.resources import DEFAULT_REQUEST, Resources
from cloudai.domain.task import (
    DEFAULT_MAX_RETRIES,
    Attempt,
    OutputFile,
    Task,
    TaskEvent,
    TaskSpec,
    TaskStatus,
)
from cloudai.domain.users import User

if TYPE_CHECKING:
    from cloudai.master.outputs import StoredOutputs

_MAX_COMMAND = 64 * 1024
_MAX_ENV_VALUE = 32 * 1024
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Annotated[str, Field(min_length=8, max_length=1024)]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, Field(max_length=320)]
    password: Annotated[str, Field(max_length=1024)]


class UserOut(BaseModel):
    user_id: str
    email: str
    name: str
    role: str
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            user_id=user.user_id,
            email=user.email,
            name=user.name,
            role=user.role.value,
            created_at=user.created_at,
        )


class LoginOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserOut


class TaskIn(BaseModel):
    """A submission. Numbers in cores and GiB; omitted requests take the defaults."""

    model_config = ConfigDict(extra="forbid")
    # The seed's dashboard sends these; accepted and ignored (the owner is the caller).
    user_id: Annotated[
        str | int | None,
        Field(exclude=True, description="Ignored: the owner is the authenticated user."),
    ] = None
    docker_image: Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[^\s]+$")]
    command: str | list[str] | None = None
    cpu_required: Annotated[float, Field(gt=0, le=1024)] = DEFAULT_REQUEST.cpu
    memory_required: Annotated[float, Field(gt=0, le=65536)] = DEFAULT_REQUEST.memory_gb
    storage_required: Annotated[float, Field(ge=0, le=1_000_000)] = DEFAULT_REQUEST.storage_gb
    gpu_required: Annotated[int, Field(ge=0, le=64)] = DEFAULT_REQUEST.gpu
    tag: Annotated[str, Field(max_length=64)] = ""
    k_value: Annotated[float, Field(ge=1.5, le=2.5)] = 2.0
    name: Annotated[str, Field(max_length=200)] = ""
    task_type: Annotated[str, Field(max_length=64)] = ""  # "" : inferred from tag and request
    # Higher first; users may lower their own (negative), only admins raise above 0.
    priority: Annotated[int, Field(ge=-1000, le=1000)] = 0
    max_retries: Annotated[int, Field(ge=0, le=100)] = DEFAULT_MAX_RETRIES
    timeout_seconds: Annotated[float | None, Field(gt=0, le=30 * 24 * 3600)] = None
    env: Annotated[dict[str, str], Field(max_length=256)] = {}
    target_worker_id: Annotated[str | None, Field(min_length=1, max_length=200)] = None

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not _ENV_NAME.fullmatch(key):
                raise ValueError(f"environment variable name {key!r} is not valid")
            if len(item) > _MAX_ENV_VALUE:
                raise ValueError(f"environment variable {key} longer than {_MAX_ENV_VALUE}")
        return value

    @field_validator("command")
    @classmethod
    def _command_size(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list):
            if not value:
                raise ValueError("an argv command needs at least one element")
            size = sum(len(part) for part in value)
        else:
            size = len(value or "")
        if size > _MAX_COMMAND:
            raise ValueError(f"command longer than {_MAX_COMMAND} characters")
        return value or None

    def to_spec(self) -> TaskSpec:
        request = Resources(
            self.cpu_required, self.memory_required, self.storage_required, self.gpu_required
        )
        return TaskSpec(
            docker_image=self.docker_image,
            command=self.command,
            request=request,
            tag=self.tag,
            k_value=self.k_value,
            name=self.name,
            priority=self.priority,
            max_retries=self.max_retries,
            timeout_s=self.timeout_seconds,
            env=dict(self.env),
            target_worker_id=self.target_worker_id,
            task_type=self.task_type,
        )


class SubmitOut(BaseModel):
    task_id: str
    status: TaskStatus
    message: str
    task_type: str
    deadline: datetime | None
    warning: str | None = None  # what the user may not expect (an inferred type, no fit)


class EventOut(BaseModel):
    at: datetime
    from_status: TaskStatus | None
    to_status: TaskStatus
    reason: str
    epoch: int

    @classmethod
    def of(cls, e: TaskEvent) -> EventOut:
        return cls(
            at=e.at, from_status=e.from_status, to_status=e.to_status, reason=e.reason,
            epoch=e.epoch,
        )  # fmt: skip


class AttemptOut(BaseModel):
    epoch: int
    worker_id: str
    status: str
    assigned_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    oom_killed: bool
    reason: str

    @classmethod
    def of(cls, a: Attempt) -> AttemptOut:
        return cls(
            epoch=a.epoch, worker_id=a.worker_id, status=a.status.value,
            assigned_at=a.assigned_at, started_at=a.started_at, finished_at=a.finished_at,
            exit_code=a.exit_code, oom_killed=a.oom_killed, reason=a.reason,
        )  # fmt: skip


class TaskOut(BaseModel):
    task_id: str
    name: str
    user_id: str
    docker_image: str
    command: str | list[str] | None
    cpu_required: float
    memory_required: float
    storage_required: float
    gpu_required: int
    tag: str
    k_value: float
    status: TaskStatus
    reason: str
    pending_reason: str | None = None
    queue_position: int | None = None
    priority: int
    task_type: str
    max_retries: int
    retries: int
    timeout_seconds: float | None
    env: dict[str, str]
    target_worker_id: str | None
    tau_seconds: float
    deadline: datetime | None
    sla_met: bool | None
    worker_id: str | None
    exit_code: int | None
    attempt: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(
        cls, t: Task, pending_reason: str | None = None, queue_position: int | None = None
    ) -> TaskOut:
        return cls(**task_fields(t, pending_reason, queue_position))


def task_fields(
    t: Task, pending_reason: str | None = None, queue_position: int | None = None
) -> dict[str, Any]:
    """`TaskOut`'s fields of a task, in its order and types, as plain values: a page of
    the task list is encoded from these straight to JSON (building 50 models and
    serialising them cost more than the page's query)."""
    r, timeout = t.request, t.timeout_s
    return {
        "task_id": t.task_id, "name": t.name, "user_id": t.user_id,
        "docker_image": t.docker_image, "command": t.command,
        "cpu_required": float(r.cpu), "memory_required": float(r.memory_gb),
        "storage_required": float(r.storage_gb), "gpu_required": r.gpu, "tag": t.tag,
        "k_value": float(t.k_value), "status": t.status, "reason": t.reason,
        "pending_reason": pending_reason, "queue_position": queue_position,
        "priority": t.priority, "task_type": t.task_type, "max_retries": t.max_retries,
        "retries": t.retries, "timeout_seconds": None if timeout is None else float(timeout),
        "env": dict(t.env), "target_worker_id": t.target_worker_id,
        "tau_seconds": float(t.tau_s), "deadline": t.deadline, "sla_met": t.sla_met,
        "worker_id": t.worker_id, "exit_code": t.exit_code, "attempt": t.epoch,
        "created_at": t.created_at, "updated_at": t.updated_at, "started_at": t.started_at,
        "finished_at": t.finished_at,
    }  # fmt: skip


class TaskDetailOut(TaskOut):
    events: list[EventOut]
    attempts: list[AttemptOut]
    # What the running attempt uses now (its container's cgroup, at its worker's last
    # heartbeat): {"cpu": cores, "memory_gb": GiB}; null when not running or not measured.
    usage: dict[str, float] | None = None


class TaskListOut(BaseModel):
    tasks: list[TaskOut]
    limit: int
    offset: int
    next_cursor: str | None = None  # set when the page is full: pass it back as `cursor`


class CancelOut(BaseModel):
    task_id: str
    status: TaskStatus
    message: str


class LogsOut(BaseModel):
    task_id: str
    status: TaskStatus
    logs: str
    offset: int
    next_offset: int
    complete: bool
    attempt: int = 0  # whose log (each attempt has its own); 0 before the first


class FileOut(BaseModel):
    path: str
    size: int
    sha256: str

    @classmethod
    def of(cls, f: OutputFile) -> FileOut:
        return cls(path=f.path, size=f.size, sha256=f.sha256)


class FilesOut(BaseModel):
    task_id: str
    files: list[FileOut]
    total_size: int


class StoredOut(BaseModel):
    task_id: str
    name: str
    status: TaskStatus
    finished_at: datetime | None
    files: int
    total_size: int

    @classmethod
    def of(cls, stored: StoredOutputs) -> StoredOut:
        t = stored.task
        return cls(
            task_id=t.task_id, name=t.name, status=t.status, finished_at=t.finished_at,
            files=stored.files, total_size=stored.total_size,
        )  # fmt: skip


class StoredListOut(BaseModel):
    tasks: list[StoredOut]
    next_cursor: str | None = None


class ErrorOut(BaseModel):
    """Every error: a stable code, the explanation, and the same text as `message`
    (the seed's clients show `message`)."""

    error: str
    detail: str
    message: str


class FieldErrorOut(BaseModel):
    field: str
    message: str


class ValidationErrorOut(ErrorOut):
    """422: the request did not validate; `message` names the first problem."""

    errors: list[FieldErrorOut]


# The seed's status words: its `pending` is submitted but not yet running on a worker,
# which is our queued or assigned. Its other words are ours.
_SEED_STATUSES = {"pending": (TaskStatus.QUEUED, TaskStatus.ASSIGNED)}


def statuses_for(word: str) -> tuple[TaskStatus, ...]:
    """The statuses a `status=` filter word means: one of ours, or the seed's
    `pending`; any case. ValueError for an unknown word."""
    word = word.strip().lower()
    return _SEED_STATUSES.get(word) or (TaskStatus(word),)
