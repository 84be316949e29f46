"""The SQL `Store`: SQLite (``sqlite+aiosqlite``) or PostgreSQL (``postgresql+psycopg``).

This module is the only place that maps rows (`tables.py`) to domain objects and back.
Every datetime is written in UTC and read back tz-aware in UTC (SQLite keeps no zone).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

from cloudai.domain.errors import Conflict
from cloudai.domain.resources import Resources
from cloudai.domain.task import (
    Attempt,
    AttemptStatus,
    OutputFile,
    Task,
    TaskEvent,
    TaskResult,
    TaskStatus,
)
from cloudai.domain.users import Role, User
from cloudai.domain.workers import Usage, Worker, WorkerStatus
from cloudai.ports import Store
from cloudai.store.engine import make_engine, upgrade_to_head
from cloudai.store.tables import (
    AssignmentRow,
    Base,
    EventRow,
    FileRow,
    ResultRow,
    TaskRow,
    UserRow,
    WorkerRow,
)

# --------------------------------------------------------------------------- opening


async def _migrate_url(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


def migrate(url: str) -> None:
    """Upgrade the database at `url` to the newest schema (a no-op when it is there).

    Synchronous, for the CLI; it runs its own event loop, so call it from a thread
    (`asyncio.to_thread`) if a loop is already running.
    """
    asyncio.run(_migrate_url(url))


async def open_store(url: str) -> SqlStore:
    """Migrate the database at `url` to head and return a store on it."""
    engine = make_engine(url)
    try:
        await upgrade_to_head(engine)
    except BaseException:
        await engine.dispose()
        raise
    return SqlStore(engine)


# --------------------------------------------------------------------------- mapping


def _utc(dt: datetime) -> datetime:
    """Naive values are UTC (SQLite drops the zone); aware ones are converted to UTC."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _utc_opt(dt: datetime | None) -> datetime | None:
    return None if dt is None else _utc(dt)


def _columns(obj: Any) -> dict[str, Any]:
    """A flat dataclass as column values: enums as their text, datetimes in UTC."""
    return {k: _column(v) for k, v in dataclasses.asdict(obj).items()}


def _column(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return _utc(value)
    return value


def _user(r: UserRow) -> User:
    return User(r.user_id, r.email, r.name, r.password_hash, Role(r.role), _utc(r.created_at))


def _worker_values(w: Worker) -> dict[str, Any]:
    return {
        "worker_id": w.worker_id,
        "address": w.address,
        "total_cpu": w.total.cpu,
        "total_memory_gb": w.total.memory_gb,
        "total_storage_gb": w.total.storage_gb,
        "total_gpu": w.total.gpu,
        "status": w.status.value,
        "registered_at": _utc(w.registered_at),
        "last_heartbeat": _utc(w.last_heartbeat),
        "usage_cpu": w.usage.cpu,
        "usage_memory": w.usage.memory,
        "usage_storage": w.usage.storage,
        "usage_gpu": w.usage.gpu,
    }


def _worker(r: WorkerRow) -> Worker:
    return Worker(
        worker_id=r.worker_id,
        address=r.address,
        total=Resources(r.total_cpu, r.total_memory_gb, r.total_storage_gb, r.total_gpu),
        status=WorkerStatus(r.status),
        registered_at=_utc(r.registered_at),
        last_heartbeat=_utc(r.last_heartbeat),
        usage=Usage(r.usage_cpu, r.usage_memory, r.usage_storage, r.usage_gpu),
    )


def _task_values(t: Task) -> dict[str, Any]:
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
        "created_at": _utc(t.created_at),
        "updated_at": _utc(t.updated_at),
        "started_at": _utc_opt(t.started_at),
        "finished_at": _utc_opt(t.finished_at),
    }


def _task(r: TaskRow) -> Task:
    return Task(
        task_id=r.task_id,
        user_id=r.user_id,
        name=r.name,
        docker_image=r.docker_image,
        command=r.command,
        request=Resources(r.req_cpu, r.req_memory_gb, r.req_storage_gb, r.req_gpu),
        tag=r.tag,
        k_value=r.k_value,
        created_at=_utc(r.created_at),
        updated_at=_utc(r.updated_at),
        status=TaskStatus(r.status),
        reason=r.reason,
        epoch=r.epoch,
        worker_id=r.worker_id,
        exit_code=r.exit_code,
        started_at=_utc_opt(r.started_at),
        finished_at=_utc_opt(r.finished_at),
    )


def _event(r: EventRow) -> TaskEvent:
    from_status = None if r.from_status is None else TaskStatus(r.from_status)
    return TaskEvent(r.task_id, _utc(r.at), from_status, TaskStatus(r.to_status), r.reason, r.epoch)


def _attempt(r: AssignmentRow) -> Attempt:
    return Attempt(
        task_id=r.task_id,
        epoch=r.epoch,
        worker_id=r.worker_id,
        assigned_at=_utc(r.assigned_at),
        status=AttemptStatus(r.status),
        started_at=_utc_opt(r.started_at),
        finished_at=_utc_opt(r.finished_at),
        exit_code=r.exit_code,
        oom_killed=r.oom_killed,
        reason=r.reason,
    )


def _result(r: ResultRow) -> TaskResult:
    return TaskResult(
        r.task_id,
        r.epoch,
        r.worker_id,
        TaskStatus(r.status),
        r.exit_code,
        r.reason,
        r.log_size,
        _utc(r.finished_at),
    )


# --------------------------------------------------------------------------- the store


class SqlStore:
    """`cloudai.ports.Store` on SQLAlchemy. Build it with `open_store`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect: {self._dialect}")
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer per file: queueing our own writers here keeps them from
        # tripping over each other's locks. PostgreSQL takes row locks, so no queue there.
        self._write_lock: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if self._dialect == "sqlite" else contextlib.nullcontext()
        )

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits on success and rolls back on error."""
        async with self._write_lock, self._sessions.begin() as session:
            yield session

    def _upsert(self, entity: type[Base], values: dict[str, Any], keys: tuple[str, ...]) -> Any:
        insert_ = pg_insert if self._dialect == "postgresql" else sqlite_insert
        changed = {k: v for k, v in values.items() if k not in keys}
        return (
            insert_(entity)
            .values(values)
            .on_conflict_do_update(index_elements=list(keys), set_=changed)
        )

    async def _all(self, stmt: Executable) -> list[Any]:
        async with self._sessions() as session:
            return list((await session.scalars(stmt)).all())

    async def _one(self, stmt: Executable) -> Any:
        async with self._sessions() as session:
            return (await session.scalars(stmt)).one_or_none()

    # users

    async def add_user(self, user: User) -> None:
        try:
            async with self._write() as session:
                await session.execute(insert(UserRow).values(_columns(user)))
        except IntegrityError as exc:
            raise Conflict(f"user {user.user_id!r} or email {user.email!r} exists") from exc

    async def get_user(self, user_id: str) -> User | None:
        row = await self._one(select(UserRow).where(UserRow.user_id == user_id))
        return None if row is None else _user(row)

    async def get_user_by_email(self, email: str) -> User | None:
        row = await self._one(select(UserRow).where(UserRow.email == email))
        return None if row is None else _user(row)

    # workers

    async def upsert_worker(self, worker: Worker) -> None:
        async with self._write() as session:
            await session.execute(self._upsert(WorkerRow, _worker_values(worker), ("worker_id",)))

    async def get_worker(self, worker_id: str) -> Worker | None:
        row = await self._one(select(WorkerRow).where(WorkerRow.worker_id == worker_id))
        return None if row is None else _worker(row)

    async def list_workers(self) -> list[Worker]:
        return [
            _worker(r) for r in await self._all(select(WorkerRow).order_by(WorkerRow.worker_id))
        ]

    # tasks

    async def add_task(self, task: Task, event: TaskEvent) -> None:
        try:
            async with self._write() as session:
                await session.execute(insert(TaskRow).values(_task_values(task)))
                await session.execute(insert(EventRow).values(_columns(event)))
        except IntegrityError as exc:
            raise Conflict(f"task {task.task_id!r} exists") from exc

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._one(select(TaskRow).where(TaskRow.task_id == task_id))
        return None if row is None else _task(row)

    async def list_tasks(
        self,
        *,
        user_id: str | None = None,
        statuses: Collection[TaskStatus] | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[Task]:
        stmt = select(TaskRow)
        if user_id is not None:
            stmt = stmt.where(TaskRow.user_id == user_id)
        if newest_first:
            stmt = stmt.order_by(TaskRow.created_at.desc(), TaskRow.task_id.desc())
        else:
            stmt = stmt.order_by(TaskRow.created_at.asc(), TaskRow.task_id.asc())
        if statuses is not None:
            stmt = stmt.where(TaskRow.status.in_([s.value for s in statuses]))
        return [_task(r) for r in await self._all(stmt.limit(limit).offset(offset))]

    async def save_task(
        self,
        task: Task,
        *,
        expected_status: TaskStatus,
        expected_epoch: int,
        events: Sequence[TaskEvent] = (),
        attempt: Attempt | None = None,
        result: TaskResult | None = None,
    ) -> bool:
        values = _task_values(task)
        del values["task_id"]
        cas = (
            update(TaskRow)
            .where(
                TaskRow.task_id == task.task_id,
                TaskRow.status == expected_status.value,
                TaskRow.epoch == expected_epoch,
            )
            .values(values)
            .execution_options(synchronize_session=False)
        )
        async with self._write() as session:
            outcome = cast(CursorResult[Any], await session.execute(cas))
            if outcome.rowcount != 1:
                return False  # the row moved on; the (empty) transaction commits nothing
            # One statement per event keeps the autoincrement ids in the given order.
            for ev in events:
                await session.execute(insert(EventRow).values(_columns(ev)))
            if attempt is not None:
                row = _columns(attempt)
                await session.execute(self._upsert(AssignmentRow, row, ("task_id", "epoch")))
            if result is not None:
                row = _columns(result)
                await session.execute(self._upsert(ResultRow, row, ("task_id",)))
        return True

    async def list_events(self, task_id: str) -> list[TaskEvent]:
        stmt = select(EventRow).where(EventRow.task_id == task_id).order_by(EventRow.id)
        return [_event(r) for r in await self._all(stmt)]

    async def get_attempt(self, task_id: str, epoch: int) -> Attempt | None:
        stmt = select(AssignmentRow).where(
            AssignmentRow.task_id == task_id, AssignmentRow.epoch == epoch
        )
        row = await self._one(stmt)
        return None if row is None else _attempt(row)

    async def list_attempts(self, task_id: str) -> list[Attempt]:
        stmt = (
            select(AssignmentRow)
            .where(AssignmentRow.task_id == task_id)
            .order_by(AssignmentRow.epoch)
        )
        return [_attempt(r) for r in await self._all(stmt)]

    async def get_result(self, task_id: str) -> TaskResult | None:
        row = await self._one(select(ResultRow).where(ResultRow.task_id == task_id))
        return None if row is None else _result(row)

    # output files

    async def replace_files(self, task_id: str, files: Sequence[OutputFile]) -> None:
        async with self._write() as session:
            await session.execute(delete(FileRow).where(FileRow.task_id == task_id))
            # Keyed by path: a path named twice is one file (the last entry wins).
            rows = {
                f.path: {"task_id": task_id, "path": f.path, "size": f.size, "sha256": f.sha256}
                for f in files
            }
            if rows:
                await session.execute(insert(FileRow), list(rows.values()))

    async def list_files(self, task_id: str) -> list[OutputFile]:
        stmt = select(FileRow).where(FileRow.task_id == task_id).order_by(FileRow.path)
        return [OutputFile(r.path, r.size, r.sha256) for r in await self._all(stmt)]

    async def close(self) -> None:
        await self._engine.dispose()


if TYPE_CHECKING:
    # Makes mypy hold SqlStore to the port's exact signatures (structural typing alone
    # would only complain at some distant call site).
    _CONFORMS: type[Store] = SqlStore
