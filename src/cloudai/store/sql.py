"""The SQL `Store`: SQLite or PostgreSQL, on synchronous connections run on the store's
own threads (`store/database.py`).

Rows become domain objects (and back) in `rows.py` only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import case, delete, func, insert, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable

from cloudai.domain.errors import Conflict
from cloudai.domain.resources import Resources
from cloudai.domain.task import (
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
from cloudai.store.database import Database
from cloudai.store.engine import make_engine, upgrade_to_head
from cloudai.store.recent_users import RecentUsers
from cloudai.store.sql_admin import AdminQueries
from cloudai.store.sql_listing import TaskListings
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
T = TypeVar("T")

# --------------------------------------------------------------------------- opening


def migrate(url: str) -> None:
    """Upgrade the database at `url` to the newest schema (a no-op when it is there).

    Blocking, for the CLI: call it from a thread (`asyncio.to_thread`) if an event
    loop is running.
    """
    engine = make_engine(url)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()


async def open_store(url: str) -> SqlStore:
    """Migrate the database at `url` to head and return a store on it."""
    engine = make_engine(url)
    try:
        await asyncio.to_thread(upgrade_to_head, engine)
    except BaseException:
        engine.dispose()
        raise
    return SqlStore(Database(engine))


# --------------------------------------------------------------------------- the store


class SqlStore(TokenQueries, AdminQueries):
    """`cloudai.ports.Store` on SQLAlchemy Core. Build it with `open_store`. Each method
    runs whole on the store's threads (`Database`). Credentials (session generations,
    API tokens) are in `TokenQueries`; users' flags, worker registrations and deletions
    in `AdminQueries`."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._dialect = db.dialect
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect: {self._dialect}")
        self._statements = Statements(db.engine.dialect)
        self._listings = TaskListings()
        self._users = RecentUsers()

    async def _write(self, work: Callable[[Connection], T]) -> T:
        """`work` in a transaction that commits when it returns, rolls back if it raises."""
        return await self._db.write(work)

    async def _write_user(self, user_id: str, work: Callable[[Connection], T]) -> T:
        """`_write` of a change to the user's row; the user kept in memory is forgotten."""
        try:
            return await self._db.write(work)
        finally:
            self._users.forget(user_id)

    def _upsert(self, entity: type[Base], values: dict[str, Any], keys: tuple[str, ...]) -> Any:
        insert_ = pg_insert if self._dialect == "postgresql" else sqlite_insert
        changed = {k: v for k, v in values.items() if k not in keys}
        return (
            insert_(entity)
            .values(values)
            .on_conflict_do_update(index_elements=list(keys), set_=changed)
        )

    async def _all(self, stmt: Executable, parameters: dict[str, Any] | None = None) -> list[Any]:
        """Plain rows (attribute access by column name): no ORM objects are built."""
        return await self._db.read(lambda conn: list(conn.execute(stmt, parameters).all()))

    async def _row(self, stmt: Executable, parameters: dict[str, Any] | None = None) -> Any:
        """The one plain row `stmt` finds (with `parameters`), or None."""
        return await self._db.read(lambda conn: conn.execute(stmt, parameters).one_or_none())

    async def _scalar(self, stmt: Executable) -> Any:
        """The first column of the one row `stmt` finds, or None."""
        return await self._db.read(lambda conn: conn.execute(stmt).scalar_one_or_none())

    # users

    async def add_user(self, user: User) -> None:
        added = insert(UserRow).values(rows.columns(user))
        try:
            await self._write(lambda conn: conn.execute(added))
        except IntegrityError as exc:
            raise Conflict(f"user {user.user_id!r} or email {user.email!r} exists") from exc

    async def get_user(self, user_id: str) -> User | None:
        return await self._users.read_through(user_id, self._read_user)

    async def _read_user(self, user_id: str) -> User | None:
        row = await self._row(self._statements.get_user, {"user_id": user_id})
        return None if row is None else rows.user_of(row)

    async def get_user_by_email(self, email: str) -> User | None:
        row = await self._row(select(UserRow).where(UserRow.email == email))
        return None if row is None else rows.user_of(row)

    # workers

    async def claim_cluster_id(self, candidate: str) -> str:
        insert_ = pg_insert if self._dialect == "postgresql" else sqlite_insert
        claim = insert_(MetaRow).values(key=_CLUSTER_ID, value=candidate)
        claim = claim.on_conflict_do_nothing(index_elements=["key"])
        await self._write(lambda conn: conn.execute(claim))
        stored: str = await self._scalar(select(MetaRow.value).where(MetaRow.key == _CLUSTER_ID))
        return stored

    async def upsert_worker(self, worker: Worker) -> None:
        upsert = self._upsert(WorkerRow, rows.worker_values(worker), ("worker_id",))
        await self._write(lambda conn: conn.execute(upsert))

    async def get_worker(self, worker_id: str) -> Worker | None:
        row = await self._row(select(WorkerRow).where(WorkerRow.worker_id == worker_id))
        return None if row is None else rows.worker_of(row)

    async def list_workers(self) -> list[Worker]:
        found = await self._all(select(WorkerRow).order_by(WorkerRow.worker_id))
        return [rows.worker_of(r) for r in found]

    # tasks

    async def add_task(self, task: Task, event: TaskEvent) -> None:
        def add(conn: Connection) -> None:
            self._statements.add_task.rowcount(conn, rows.task_values(task))
            self._statements.add_event.rowcount(conn, rows.columns(event))

        try:
            await self._write(add)
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
        count: int = await self._scalar(stmt)
        return count

    async def count_by_status(self) -> dict[TaskStatus, int]:
        stmt = select(TaskRow.status, func.count()).group_by(TaskRow.status)
        found = {status: int(count) for status, count in await self._all(stmt)}
        return {status: found.get(status.value, 0) for status in TaskStatus}

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
        stmt, parameters = self._listings.statement(
            user_id=user_id, statuses=statuses, limit=limit, offset=offset,
            newest_first=newest_first, worker_id=worker_id, after=after, tag=tag, since=since,
            with_files=with_files, id_prefix=id_prefix, search=search,
        )  # fmt: skip
        return [rows.task_of(r) for r in await self._all(stmt, parameters)]

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

    def _cas(
        self, conn: Connection, task: Task, expected_status: TaskStatus, expected_epoch: int
    ) -> bool:
        """Write `task` over its row if the row is still in (status, epoch)."""
        parameters = cas_parameters(task, expected_status, expected_epoch)
        return self._statements.cas_task.rowcount(conn, parameters) == 1

    def _write_rest(
        self,
        conn: Connection,
        events: Sequence[TaskEvent],
        attempt: Attempt | None,
        result: TaskResult | None,
    ) -> None:
        # One statement per event keeps the autoincrement ids in the given order.
        for ev in events:
            self._statements.add_event.rowcount(conn, rows.columns(ev))
        if attempt is not None:
            self._statements.put_attempt.rowcount(conn, rows.columns(attempt))
        if result is not None:
            self._statements.put_result.rowcount(conn, rows.columns(result))

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
        def save(conn: Connection) -> bool:
            if not self._cas(conn, task, expected_status, expected_epoch):
                return False  # the row moved on; the (empty) transaction commits nothing
            self._write_rest(conn, events, attempt, result)
            return True

        return await self._write(save)

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

        def claim(conn: Connection) -> Claim:
            if not self._lock_worker(conn, worker_id):
                return Claim.NO_CAPACITY
            if not (self._held(conn, worker_id) + task.request).fits_in(capacity):
                return Claim.NO_CAPACITY
            if not self._cas(conn, task, TaskStatus.QUEUED, expected_epoch):
                return Claim.TASK_CHANGED
            self._write_rest(conn, events, attempt, None)
            return Claim.CLAIMED

        return await self._write(claim)

    def _lock_worker(self, conn: Connection, worker_id: str) -> bool:
        """Serialise claims on this worker across every master process: the row lock
        (PostgreSQL) or the database write lock (SQLite: the store's write transactions
        begin IMMEDIATE) is held until commit. False: no such worker."""
        return bool(self._statements.lock_worker.rows(conn, {"worker_id": worker_id}))

    def _held(self, conn: Connection, worker_id: str) -> Resources:
        """What the tasks holding a place on the worker request, together."""
        (held,) = self._statements.held.rows(conn, {"worker_id": worker_id})
        return Resources(float(held[0]), float(held[1]), float(held[2]), int(held[3]))

    async def sla_counts(self) -> list[SlaCount]:
        met = func.sum(case((TaskRow.sla_met.is_(True), 1), else_=0))
        stmt = (
            select(TaskRow.task_type, TaskRow.scheduler, met, func.count())
            .where(TaskRow.sla_met.is_not(None))
            .group_by(TaskRow.task_type, TaskRow.scheduler)
            .order_by(TaskRow.task_type, TaskRow.scheduler)
        )
        found = await self._all(stmt)
        return [SlaCount(t, sched, int(m), int(n)) for t, sched, m, n in found]

    async def list_events(self, task_id: str) -> list[TaskEvent]:
        stmt = select(EventRow).where(EventRow.task_id == task_id).order_by(EventRow.id)
        return [rows.event_of(r) for r in await self._all(stmt)]

    async def get_attempt(self, task_id: str, epoch: int) -> Attempt | None:
        stmt = select(AssignmentRow).where(
            AssignmentRow.task_id == task_id, AssignmentRow.epoch == epoch
        )
        row = await self._row(stmt)
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
        row = await self._row(select(ResultRow).where(ResultRow.task_id == task_id))
        return None if row is None else rows.result_of(row)

    # output files

    async def replace_files(self, task_id: str, files: Sequence[OutputFile]) -> None:
        # Keyed by path: a path named twice is one file (the last entry wins).
        values = {
            f.path: {"task_id": task_id, "path": f.path, "size": f.size, "sha256": f.sha256}
            for f in files
        }

        def replace(conn: Connection) -> None:
            conn.execute(delete(FileRow).where(FileRow.task_id == task_id))
            if values:
                conn.execute(insert(FileRow), list(values.values()))

        await self._write(replace)

    async def file_totals(self, task_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        if not task_ids:
            return {}
        stmt = (
            select(FileRow.task_id, func.count(), func.coalesce(func.sum(FileRow.size), 0))
            .where(FileRow.task_id.in_(list(task_ids)))
            .group_by(FileRow.task_id)
        )
        found = await self._all(stmt)
        return {task_id: (int(count), int(size)) for task_id, count, size in found}

    async def list_files(self, task_id: str) -> list[OutputFile]:
        stmt = select(FileRow).where(FileRow.task_id == task_id).order_by(FileRow.path)
        return [OutputFile(r.path, r.size, r.sha256) for r in await self._all(stmt)]

    async def close(self) -> None:
        await self._db.close()


if TYPE_CHECKING:
    # Makes mypy hold SqlStore to the port's exact signatures (structural typing alone
    # would only complain at some distant call site).
    _CONFORMS: type[Store] = SqlStore
