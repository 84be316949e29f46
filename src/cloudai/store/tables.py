"""The relational schema. `migrations/versions/*` must build exactly these tables.

Rows are plain column holders; turning them into domain objects happens in `sql.py`.
Datetimes are declared timezone-aware; SQLite forgets the zone on read, so the
repository re-attaches UTC (everything is written in UTC).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, so later migrations can drop/alter them by name
# on every backend (SQLite batch mode needs names to recreate tables).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserRow(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String, primary_key=True)
    email: Mapped[str] = mapped_column(String, unique=True)
    name: Mapped[str] = mapped_column(String)
    password_hash: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    session_generation: Mapped[int] = mapped_column(Integer, server_default="0")
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=false())


class WorkerRow(Base):
    __tablename__ = "workers"

    worker_id: Mapped[str] = mapped_column(String, primary_key=True)
    address: Mapped[str] = mapped_column(String)
    total_cpu: Mapped[float] = mapped_column(Float)
    total_memory_gb: Mapped[float] = mapped_column(Float)
    total_storage_gb: Mapped[float] = mapped_column(Float)
    total_gpu: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String)
    registered_at: Mapped[datetime] = mapped_column(Timestamp)
    last_heartbeat: Mapped[datetime] = mapped_column(Timestamp)
    usage_cpu: Mapped[float] = mapped_column(Float)
    usage_memory: Mapped[float] = mapped_column(Float)
    usage_storage: Mapped[float] = mapped_column(Float)
    usage_gpu: Mapped[float] = mapped_column(Float)
    eligibility: Mapped[str] = mapped_column(String, server_default="open")


class TaskRow(Base):
    __tablename__ = "tasks"

    task_id: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[str] = mapped_column(String, index=True)
    name: Mapped[str] = mapped_column(String)
    docker_image: Mapped[str] = mapped_column(String)
    # A shell string, an argv list, or None (the image's default command).
    # none_as_null: store SQL NULL rather than the JSON text 'null'.
    command: Mapped[str | list[str] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    req_cpu: Mapped[float] = mapped_column(Float)
    req_memory_gb: Mapped[float] = mapped_column(Float)
    req_storage_gb: Mapped[float] = mapped_column(Float)
    req_gpu: Mapped[int] = mapped_column(Integer)
    tag: Mapped[str] = mapped_column(String)
    k_value: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String, index=True)
    reason: Mapped[str] = mapped_column(String)
    epoch: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str | None] = mapped_column(String, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    priority: Mapped[int] = mapped_column(Integer, server_default="0")
    max_retries: Mapped[int] = mapped_column(Integer, server_default="3")
    retries: Mapped[int] = mapped_column(Integer, server_default="0")
    timeout_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    env: Mapped[dict[str, str]] = mapped_column(JSON, server_default="{}")
    target_worker_id: Mapped[str | None] = mapped_column(String, nullable=True)
    task_type: Mapped[str] = mapped_column(String, server_default="mixed")
    tau_s: Mapped[float] = mapped_column(Float, server_default="0")
    deadline: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    sla_met: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    scheduler: Mapped[str] = mapped_column(String, server_default="")

    __table_args__ = (
        # The queue in submit order, and what each worker holds.
        Index("ix_tasks_status_created", "status", "created_at", "task_id"),
        Index("ix_tasks_worker_status", "worker_id", "status"),
        Index("ix_tasks_finished_at", "finished_at"),
        Index("ix_tasks_user_created", "user_id", "created_at", "task_id"),
    )


class AssignmentRow(Base):
    """One attempt of a task; `epoch` is its fencing token."""

    __tablename__ = "assignments"

    task_id: Mapped[str] = mapped_column(String, primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_id: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    assigned_at: Mapped[datetime] = mapped_column(Timestamp)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    oom_killed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String)


class ResultRow(Base):
    __tablename__ = "results"

    task_id: Mapped[str] = mapped_column(String, primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(String)
    log_size: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[datetime] = mapped_column(Timestamp)


class FileRow(Base):
    __tablename__ = "file_metadata"

    task_id: Mapped[str] = mapped_column(String, primary_key=True)
    path: Mapped[str] = mapped_column(String, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String)


class EventRow(Base):
    __tablename__ = "task_events"

    # The id gives the insertion order that `list_events` returns.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String, index=True)
    at: Mapped[datetime] = mapped_column(Timestamp)
    from_status: Mapped[str | None] = mapped_column(String, nullable=True)
    to_status: Mapped[str] = mapped_column(String)
    reason: Mapped[str] = mapped_column(String)
    epoch: Mapped[int] = mapped_column(Integer)


metadata = Base.metadata


class MetaRow(Base):
    """Facts about the cluster itself (its id), one row each."""

    __tablename__ = "cluster_meta"

    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(String)


class ApiTokenRow(Base):
    """A personal API token: its SHA-256 only, never the token."""

    __tablename__ = "api_tokens"

    token_id: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[str] = mapped_column(String, index=True)
    name: Mapped[str] = mapped_column(String)
    token_hash: Mapped[str] = mapped_column(String, unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class RegistrationRow(Base):
    """A worker's pre-registration: the one-time token's SHA-256, never the token."""

    __tablename__ = "worker_registrations"

    token_hash: Mapped[str] = mapped_column(String, primary_key=True)
    address: Mapped[str] = mapped_column(String)
    worker_id: Mapped[str | None] = mapped_column(String, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    used_by: Mapped[str | None] = mapped_column(String, nullable=True)
