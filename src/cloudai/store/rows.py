"""Rows (`tables.py`) to domain objects and back: the only place that maps them.

Every datetime is written in UTC and read back tz-aware in UTC (SQLite keeps no zone).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, cast

from sqlalchemy.engine import Row

from cloudai.domain.resources import Resources
from cloudai.domain.task import (
    Attempt,
    AttemptStatus,
    Task,
    TaskEvent,
    TaskResult,
    TaskStatus,
)
from cloudai.domain.users import Role, User
from cloudai.domain.workers import Eligibility, Usage, Worker, WorkerStatus
from cloudai.store.tables import AssignmentRow, EventRow, ResultRow, UserRow, WorkerRow


def utc(dt: datetime) -> datetime:
    """Naive values are UTC (SQLite drops the zone); aware ones are converted to UTC."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def utc_opt(dt: datetime | None) -> datetime | None:
    return None if dt is None else utc(dt)


def columns(obj: Any) -> dict[str, Any]:
    """A flat dataclass as column values: enums as their text, datetimes in UTC.
    (Not `dataclasses.asdict`: it deep-copies every value, a tenth of a write's time.)"""
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = tuple(f.name for f in dataclasses.fields(obj))
    return {name: column(getattr(obj, name)) for name in names}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # per dataclass, filled as they come


def column(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return utc(value)
    return value


def user_of(r: UserRow | Row[Any]) -> User:
    return User(
        r.user_id, r.email, r.name, r.password_hash, Role(r.role), utc(r.created_at),
        r.session_generation, r.disabled,
    )  # fmt: skip


def worker_values(w: Worker) -> dict[str, Any]:
    return {
        "worker_id": w.worker_id,
        "address": w.address,
        "total_cpu": w.total.cpu,
        "total_memory_gb": w.total.memory_gb,
        "total_storage_gb": w.total.storage_gb,
        "total_gpu": w.total.gpu,
        "status": w.status.value,
        "registered_at": utc(w.registered_at),
        "last_heartbeat": utc(w.last_heartbeat),
        "usage_cpu": w.usage.cpu,
        "usage_memory": w.usage.memory,
        "usage_storage": w.usage.storage,
        "usage_gpu": w.usage.gpu,
        "eligibility": w.eligibility.value,
    }


def worker_of(r: WorkerRow) -> Worker:
    return Worker(
        worker_id=r.worker_id,
        address=r.address,
        total=Resources(r.total_cpu, r.total_memory_gb, r.total_storage_gb, r.total_gpu),
        status=WorkerStatus(r.status),
        registered_at=utc(r.registered_at),
        last_heartbeat=utc(r.last_heartbeat),
        usage=Usage(r.usage_cpu, r.usage_memory, r.usage_storage, r.usage_gpu),
        eligibility=Eligibility(r.eligibility),
    )


def task_values(t: Task) -> dict[str, Any]:
    return {
        "task_id": t.task_id,
        "user_id": t.user_id,
        "name": t.name,
        "docker_image": t.docker_image,
        # A copy: the row must not alias the caller's mutable list.
        "command": list(t.command) if isinstance(t.command, list) else t.command,
        "req_cpu": t.request.cpu,
        "req_memory_gb": t.request.memory_gb,
        "req_storage_gb": t.request.storage_gb,
        "req_gpu": t.request.gpu,
        "tag": t.tag,
        "k_value": t.k_value,
        "status": t.status.value,
        "reason": t.reason,
        "epoch": t.epoch,
        "worker_id": t.worker_id,
        "exit_code": t.exit_code,
        "created_at": utc(t.created_at),
        "updated_at": utc(t.updated_at),
        "started_at": utc_opt(t.started_at),
        "finished_at": utc_opt(t.finished_at),
        "priority": t.priority,
        "max_retries": t.max_retries,
        "retries": t.retries,
        "timeout_s": t.timeout_s,
        "env": dict(t.env),
        "target_worker_id": t.target_worker_id,
        "task_type": t.task_type,
        "tau_s": t.tau_s,
        "deadline": utc_opt(t.deadline),
        "sla_met": t.sla_met,
        "scheduler": t.scheduler,
    }


def task_of(r: Row[Any]) -> Task:
    """A task from a plain row of the task columns (others may be there too). Read
    through the row's mapping: attribute access costs ten times as much, which was a
    third of listing a page of tasks."""
    m = r._mapping
    return Task(
        task_id=m["task_id"],
        user_id=m["user_id"],
        name=m["name"],
        docker_image=m["docker_image"],
        command=m["command"],
        request=Resources(m["req_cpu"], m["req_memory_gb"], m["req_storage_gb"], m["req_gpu"]),
        tag=m["tag"],
        k_value=m["k_value"],
        created_at=utc(m["created_at"]),
        updated_at=utc(m["updated_at"]),
        status=TaskStatus(m["status"]),
        reason=m["reason"],
        epoch=m["epoch"],
        worker_id=m["worker_id"],
        exit_code=m["exit_code"],
        started_at=utc_opt(m["started_at"]),
        finished_at=utc_opt(m["finished_at"]),
        priority=m["priority"],
        max_retries=m["max_retries"],
        retries=m["retries"],
        timeout_s=m["timeout_s"],
        env=dict(m["env"] or {}),
        target_worker_id=m["target_worker_id"],
        task_type=m["task_type"],
        tau_s=m["tau_s"],
        deadline=utc_opt(m["deadline"]),
        sla_met=m["sla_met"],
        scheduler=m["scheduler"],
    )


def event_of(r: EventRow) -> TaskEvent:
    from_status = None if r.from_status is None else TaskStatus(r.from_status)
    return TaskEvent(r.task_id, utc(r.at), from_status, TaskStatus(r.to_status), r.reason, r.epoch)


def attempt_of_prefixed(row: Mapping[str, Any], prefix: str) -> Attempt | None:
    """The attempt whose columns `row` carries under `prefix` (an outer join's: None
    when it found no attempt)."""
    if row[prefix + "task_id"] is None:
        return None
    return attempt_of(cast(AssignmentRow, _Columns(row, prefix)))


class _Columns:
    """Attribute access to a row's prefixed columns, as `attempt_of` reads them."""

    def __init__(self, row: Mapping[str, Any], prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getattr__(self, name: str) -> Any:
        return self._row[self._prefix + name]


def attempt_of(r: AssignmentRow) -> Attempt:
    return Attempt(
        task_id=r.task_id,
        epoch=r.epoch,
        worker_id=r.worker_id,
        assigned_at=utc(r.assigned_at),
        status=AttemptStatus(r.status),
        started_at=utc_opt(r.started_at),
        finished_at=utc_opt(r.finished_at),
        exit_code=r.exit_code,
        oom_killed=r.oom_killed,
        reason=r.reason,
    )


def result_of(r: ResultRow) -> TaskResult:
    return TaskResult(
        r.task_id,
        r.epoch,
        r.worker_id,
        TaskStatus(r.status),
        r.exit_code,
        r.reason,
        r.log_size,
        utc(r.finished_at),
    )
