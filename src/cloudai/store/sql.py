"""The SQL `Store`: SQLite (``sqlite+aiosqlite``) or PostgreSQL (``postgresql+psycopg``).

Rows become domain objects (and back) in `rows.py` only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, case, delete, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

from cloudai.domain.errors import Conflict
from cloudai.domain.resources import Resources
from cloudai.domain.task import (
    HOLDING,
    Attempt,
    OutputFile,
    Task,
    TaskEvent,
    TaskResult,
    TaskStatus,
)
from cloudai.domain.users import User
from cloudai.domain.workers import Worker
from cloudai.ports import Claim, SlaCount, Store
from cloudai.store import rows
from cloudai.store.engine import make_engine, upgrade_to_head
from cloudai.store.sql_admin import AdminQueries
from cloudai.store.sql_listing import task_listing
from cloudai.store.sql_statements import ATTEMPT_PREFIX, Statements, cas_parameters
from cloudai.store.sql_tokens import TokenQueries
from cloudai.store.tables import (
    AssignmentRow,
    Base,
    EventRow,
    FileRow,
    MetaRow,
    ResultRow,
    TaskRow,
    UserRow,
    WorkerRow,
)

_CLUSTER_ID = "cluster_id"

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


# --------------------------------------------------------------------------- the store


class SqlStore(TokenQueries, AdminQueries):
    """`cloudai.ports.Store` on SQLAlchemy. Build it with `open_store`. Credentials
    (session generations, API tokens) are in `TokenQueries`; users' flags, worker
    registrations and deletions in `AdminQueries`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect: {self._dialect}")
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._statements = Statements(self._dialect)
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

    async def _rows(self, stmt: Executable) -> list[Any]:
        """Plain rows (attribute access by column name), without the ORM's per-row
        bookkeeping: for reads that only map rows to domain values."""
        async with self._sessions() as session:
            return list((await session.execute(stmt)).all())

    async def _row(self, stmt: Executable, parameters: dict[str, Any]) -> Any:
        """The one plain row a prebuilt statement finds with `parameters`, or None."""
        async with self._sessions() as session:
            return (await session.execute(stmt, parameters)).one_or_none()

    async def _one(self, stmt: Executable) -> Any:
        async with self._sessions() as session:
            return (await session.scalars(stmt)).one_or_none()

    # users

    async def add_user(self, user: User) -> None:
        try:
            async with self._write() as session:
                await session.execute(insert(UserRow).values(rows.columns(user)))
        except IntegrityError as exc:
            raise Conflict(f"user {user.user_id!r} or email {user.email!r} exists") from exc

    async def get_user(self, user_id: str) -> User | None:
        row = await self._row(self._statements.get_user, {"user_id": user_id})
        return None if row is None else rows.user_of(row)

    async def get_user_by_email(self, email: str) -> User | None:
        row = await self._one(select(UserRow).where(UserRow.email == email))
        return None if row is None else rows.user_of(row)

    # workers

    async def claim_cluster_id(self, candidate: str) -> str:
        insert_ = pg_insert if self._dialect == "postgresql" else sqlite_insert
        claim = insert_(MetaRow).values(key=_CLUSTER_ID, value=candidate)
        async with self._write() as session:
            await session.execute(claim.on_conflict_do_nothing(index_elements=["key"]))
        stored: str = await self._one(select(MetaRow.value).where(MetaRow.key == _CLUSTER_ID))
        return stored

    async def upsert_worker(self, worker: Worker) -> None:
        async with self._write() as session:
            await session.execute(
                self._upsert(WorkerRow, rows.worker_values(worker), ("worker_id",))
            )

    async def get_worker(self, worker_id: str) -> Worker | None:
        row = await self._one(select(WorkerRow).where(WorkerRow.worker_id == worker_id))
        return None if row is None else rows.worker_of(row)

    async def list_workers(self) -> list[Worker]:
        return [
            rows.worker_of(r)
            for r in await self._all(select(WorkerRow).order_by(WorkerRow.worker_id))
        ]

    # tasks

    async def add_task(self, task: Task, event: TaskEvent) -> None:
        try:
            async with self._write() as session:
                await session.execute(self._statements.add_task, rows.task_values(task))
                await session.execute(self._statements.add_event, rows.columns(event))
        except IntegrityError as exc:
            raise Conflict(f"task {task.task_id!r} exists") from exc

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._row(self._statements.get_task, {"task_id": task_id})
        return None if row is None else rows.task_of(row)

    async def count_tasks(
        self, *, user_id: str | None = None, statuses: Collection[TaskStatus] | None = None
    ) -> int:
        stmt = select(func.count()).select_from(TaskRow)
        if user_id is not None:
            stmt = stmt.where(TaskRow.user_id == user_id)
        if statuses is not None:
            stmt = stmt.where(TaskRow.status.in_([s.value for s in statuses]))
        count: int = await self._one(stmt)
        return count

    async def list_tasks(
        self,
        *,
        user_id: str | None = None,
        statuses: Collection[TaskStatus] | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = False,
        worker_id: str | None = None,
        after: tuple[datetime, str] | None = None,
        tag: str | None = None,
        since: datetime | None = None,
        with_files: bool = False,
        id_prefix: str | None = None,
        search: str | None = None,
    ) -> list[Task]:
        stmt = task_listing(
            user_id=user_id, statuses=statuses, limit=limit, offset=offset,
            newest_first=newest_first, worker_id=worker_id, after=after, tag=tag, since=since,
            with_files=with_files, id_prefix=id_prefix, search=search,
        )  # fmt: skip
        return [rows.task_of(r) for r in await self._rows(stmt)]

    async def list_finished(
        self, since: datetime, *, after: tuple[datetime, str] | None = None, limit: int = 1000
    ) -> list[Task]:
        stmt = select(TaskRow).where(TaskRow.finished_at >= rows.utc(since))
        if after is not None:
            stmt = stmt.where(
                tuple_(TaskRow.finished_at, TaskRow.task_id) > (rows.utc(after[0]), after[1])
            )
        stmt = stmt.order_by(TaskRow.finished_at.asc(), TaskRow.task_id.asc()).limit(limit)
        return [rows.task_of(r) for r in await self._all(stmt)]

    async def _cas(
        self, session: AsyncSession, task: Task, expected_status: TaskStatus, expected_epoch: int
    ) -> bool:
        """Write `task` over its row if the row is still in (status, epoch)."""
        parameters = cas_parameters(task, expected_status, expected_epoch)
        outcome = await session.execute(self._statements.cas_task, parameters)
        return cast(CursorResult[Any], outcome).rowcount == 1

    async def _write_rest(
        self,
        session: AsyncSession,
        events: Sequence[TaskEvent],
        attempt: Attempt | None,
        result: TaskResult | None,
    ) -> None:
        # One statement per event keeps the autoincrement ids in the given order.
        for ev in events:
            await session.execute(self._statements.add_event, rows.columns(ev))
        if attempt is not None:
            await session.execute(self._statements.put_attempt, rows.columns(attempt))
        if result is not None:
            await session.execute(self._statements.put_result, rows.columns(result))

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
        async with self._write() as session:
            if not await self._cas(session, task, expected_status, expected_epoch):
                return False  # the row moved on; the (empty) transaction commits nothing
            await self._write_rest(session, events, attempt, result)
        return True

    async def claim_task(
        self,
        task: Task,
        *,
        expected_epoch: int,
        capacity: Resources,
        events: Sequence[TaskEvent] = (),
        attempt: Attempt | None = None,
    ) -> Claim:
        worker_id = task.worker_id
        if worker_id is None:
            raise ValueError("a claimed task names its worker")
        async with self._write() as session:
            # Serialise claims on this worker across every master process: the row lock
            # (PostgreSQL) or the database write lock (SQLite, taken by BEGIN IMMEDIATE
            # semantics of the first write below) is held until commit.
            lock = select(WorkerRow.worker_id).where(WorkerRow.worker_id == worker_id)
            if self._dialect == "postgresql":
                lock = lock.with_for_update()
            else:
                await session.execute(
                    update(WorkerRow)
                    .where(WorkerRow.worker_id == worker_id)
                    .values(worker_id=WorkerRow.worker_id)
                )
            if (await session.execute(lock)).first() is None:
                return Claim.NO_CAPACITY
            held = (
                await session.execute(
                    select(
                        func.coalesce(func.sum(TaskRow.req_cpu), 0.0),
                        func.coalesce(func.sum(TaskRow.req_memory_gb), 0.0),
                        func.coalesce(func.sum(TaskRow.req_storage_gb), 0.0),
                        func.coalesce(func.sum(TaskRow.req_gpu), 0),
                    ).where(
                        TaskRow.worker_id == worker_id,
                        TaskRow.status.in_([s.value for s in HOLDING]),
                    )
                )
            ).one()
            used = Resources(float(held[0]), float(held[1]), float(held[2]), int(held[3]))
            if not (used + task.request).fits_in(capacity):
                return Claim.NO_CAPACITY
            if not await self._cas(session, task, TaskStatus.QUEUED, expected_epoch):
                return Claim.TASK_CHANGED
            await self._write_rest(session, events, attempt, None)
        return Claim.CLAIMED

    async def sla_counts(self) -> list[SlaCount]:
        met = func.sum(case((TaskRow.sla_met.is_(True), 1), else_=0))
        stmt = (
            select(TaskRow.task_type, TaskRow.scheduler, met, func.count())
            .where(TaskRow.sla_met.is_not(None))
            .group_by(TaskRow.task_type, TaskRow.scheduler)
            .order_by(TaskRow.task_type, TaskRow.scheduler)
        )
        async with self._sessions() as session:
            found = (await session.execute(stmt)).all()
        return [SlaCount(t, sched, int(m), int(n)) for t, sched, m, n in found]

    async def list_events(self, task_id: str) -> list[TaskEvent]:
        stmt = select(EventRow).where(EventRow.task_id == task_id).order_by(EventRow.id)
        return [rows.event_of(r) for r in await self._all(stmt)]

    async def get_attempt(self, task_id: str, epoch: int) -> Attempt | None:
        stmt = select(AssignmentRow).where(
            AssignmentRow.task_id == task_id, AssignmentRow.epoch == epoch
        )
        row = await self._one(stmt)
        return None if row is None else rows.attempt_of(row)

    async def get_current(self, task_id: str) -> tuple[Task, Attempt | None] | None:
        # One statement, so one snapshot on every backend (PostgreSQL's READ COMMITTED
        # takes a fresh one per statement): two reads could pair a task with an
        # attempt from a later commit.
        found = await self._row(self._statements.get_current, {"task_id": task_id})
        if found is None:
            return None
        return rows.task_of(found), rows.attempt_of_prefixed(found._mapping, ATTEMPT_PREFIX)

    async def list_attempts(self, task_id: str) -> list[Attempt]:
        stmt = (
            select(AssignmentRow)
            .where(AssignmentRow.task_id == task_id)
            .order_by(AssignmentRow.epoch)
        )
        return [rows.attempt_of(r) for r in await self._all(stmt)]

    async def get_result(self, task_id: str) -> TaskResult | None:
        row = await self._one(select(ResultRow).where(ResultRow.task_id == task_id))
        return None if row is None else rows.result_of(row)

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

    async def file_totals(self, task_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        if not task_ids:
            return {}
        stmt = (
            select(FileRow.task_id, func.count(), func.coalesce(func.sum(FileRow.size), 0))
            .where(FileRow.task_id.in_(list(task_ids)))
            .group_by(FileRow.task_id)
        )
        async with self._sessions() as session:
            found = (await session.execute(stmt)).all()
        return {task_id: (int(count), int(size)) for task_id, count, size in found}

    async def list_files(self, task_id: str) -> list[OutputFile]:
        stmt = select(FileRow).where(FileRow.task_id == task_id).order_by(FileRow.path)
        return [OutputFile(r.path, r.size, r.sha256) for r in await self._all(stmt)]

    async def close(self) -> None:
        await self._engine.dispose()


if TYPE_CHECKING:
    # Makes mypy hold SqlStore to the port's exact signatures (structural typing alone
    # would only complain at some distant call site).
    _CONFORMS: type[Store] = SqlStore
