"""The hot statements, built once and executed with parameters.

Building `insert(...).values(row)` per call costs more than the write: SQLAlchemy walks
the values to make a cache key, then looks the compiled form up. A statement built once
carries its cache key, and its values come as execution parameters. They are Core
statements on the tables (no ORM bookkeeping either). The writes of a submit, a claim
and a status change are `Prepared`: compiled once, run on the driver's cursor.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Executable, Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ClauseElement

from cloudai.domain.task import HOLDING, Task, TaskStatus
from cloudai.store import rows
from cloudai.store.prepared import Prepared
from cloudai.store.tables import AssignmentRow, EventRow, ResultRow, TaskRow, UserRow, WorkerRow

TASKS = cast(Table, TaskRow.__table__)
EVENTS = cast(Table, EventRow.__table__)
ATTEMPTS = cast(Table, AssignmentRow.__table__)
RESULTS = cast(Table, ResultRow.__table__)
USERS = cast(Table, UserRow.__table__)
WORKERS = cast(Table, WorkerRow.__table__)
ATTEMPT_PREFIX = "attempt_"  # the current attempt's columns in `get_current`


class Statements:
    def __init__(self, dialect: Dialect) -> None:
        self.add_task = Prepared(insert(TASKS), dialect)
        self.add_event = Prepared(insert(EVENTS), dialect)
        # The compare-and-set of a task row: its WHERE binds are named apart from the
        # columns, whose new values are the other parameters.
        cas = update(TASKS).where(
            TASKS.c.task_id == bindparam("key_task_id"),
            TASKS.c.status == bindparam("key_status"),
            TASKS.c.epoch == bindparam("key_epoch"),
        )
        self.cas_task = Prepared(cas, dialect)
        # The hot reads: a task, a user (every authenticated request), a task with its
        # current attempt in one statement (one snapshot on every backend).
        self.get_task: Executable = select(TASKS).where(TASKS.c.task_id == bindparam("task_id"))
        self.get_user: Executable = select(USERS).where(USERS.c.user_id == bindparam("user_id"))
        current = and_(ATTEMPTS.c.task_id == TASKS.c.task_id, ATTEMPTS.c.epoch == TASKS.c.epoch)
        self.get_current: Executable = (
            select(TASKS, *(c.label(ATTEMPT_PREFIX + c.name) for c in ATTEMPTS.c))
            .select_from(TASKS.outerjoin(ATTEMPTS, current))
            .where(TASKS.c.task_id == bindparam("task_id"))
        )
        # A claim: lock the worker's row (PostgreSQL; SQLite's write transaction holds
        # the database's lock already), then add up what its holding tasks request.
        worker = WORKERS.c.worker_id == bindparam("worker_id")
        postgres = dialect.name == "postgresql"
        lock = select(WORKERS.c.worker_id).where(worker)
        self.lock_worker = Prepared(lock.with_for_update() if postgres else lock, dialect)
        held = select(
            func.coalesce(func.sum(TASKS.c.req_cpu), 0.0),
            func.coalesce(func.sum(TASKS.c.req_memory_gb), 0.0),
            func.coalesce(func.sum(TASKS.c.req_storage_gb), 0.0),
            func.coalesce(func.sum(TASKS.c.req_gpu), 0),
        ).where(
            TASKS.c.worker_id == bindparam("worker_id"),
            # Not `in_`: a prepared statement takes no expanding parameter.
            or_(*(TASKS.c.status == s.value for s in sorted(HOLDING))),
        )
        self.held = Prepared(held, dialect)
        upsert = pg_insert if postgres else sqlite_insert
        self.put_attempt = Prepared(_upsert(upsert, ATTEMPTS, ("task_id", "epoch")), dialect)
        self.put_result = Prepared(_upsert(upsert, RESULTS, ("task_id",)), dialect)


def cas_parameters(task: Task, expected_status: TaskStatus, expected_epoch: int) -> dict[str, Any]:
    values = rows.task_values(task)
    key = values.pop("task_id")
    return {**values, "key_task_id": key, "key_status": expected_status.value,
            "key_epoch": expected_epoch}  # fmt: skip


def _upsert(upsert: Any, table: Table, keys: tuple[str, ...]) -> ClauseElement:
    stmt = upsert(table)
    changed = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    result: ClauseElement = stmt.on_conflict_do_update(index_elements=list(keys), set_=changed)
    return result
