"""The task listing's statement: filters, paging key and order, built apart from the
store so each part stays small. Pure: it builds a SELECT and runs nothing."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, tuple_

from cloudai.domain.task import TaskStatus
from cloudai.store import rows
from cloudai.store.tables import FileRow, TaskRow

_SEARCHED = (TaskRow.task_id, TaskRow.name, TaskRow.docker_image)


def task_listing(
    *,
    user_id: str | None,
    statuses: Collection[TaskStatus] | None,
    limit: int,
    offset: int,
    newest_first: bool,
    worker_id: str | None,
    after: tuple[datetime, str] | None,
    tag: str | None,
    since: datetime | None,
    with_files: bool,
    id_prefix: str | None,
    search: str | None,
) -> Select[Any]:
    """Plain rows of the matching tasks (see `Store.list_tasks` for each filter)."""
    conditions = [
        *_equal(user_id=user_id, worker_id=worker_id, tag=tag),
        *_matching(id_prefix, search, with_files),
    ]
    if statuses is not None:
        conditions.append(TaskRow.status.in_([s.value for s in statuses]))
    if since is not None:
        conditions.append(TaskRow.created_at >= rows.utc(since))
    key = tuple_(TaskRow.created_at, TaskRow.task_id)
    if after is not None:
        bound = (rows.utc(after[0]), after[1])
        conditions.append(key < bound if newest_first else key > bound)
    order = (
        (TaskRow.created_at.desc(), TaskRow.task_id.desc())
        if newest_first
        else (TaskRow.created_at.asc(), TaskRow.task_id.asc())
    )
    stmt = select(*TaskRow.__table__.columns).where(*conditions).order_by(*order)
    return stmt.limit(limit).offset(offset)


def _equal(**wanted: str | None) -> list[ColumnElement[bool]]:
    columns = {"user_id": TaskRow.user_id, "worker_id": TaskRow.worker_id, "tag": TaskRow.tag}
    return [columns[name] == value for name, value in wanted.items() if value is not None]


def _matching(
    id_prefix: str | None, search: str | None, with_files: bool
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if id_prefix is not None:  # substr, not LIKE: SQLite's LIKE ignores case
        conditions.append(func.substr(TaskRow.task_id, 1, len(id_prefix)) == id_prefix)
    if search is not None:
        conditions.append(or_(*(c.icontains(search, autoescape=True) for c in _SEARCHED)))
    if with_files:
        has_files = select(FileRow.task_id).where(FileRow.task_id == TaskRow.task_id).exists()
        conditions.append(has_files)
    return conditions
