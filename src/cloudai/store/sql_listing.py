"""The task listing's statement: filters, paging key and order, built apart from the
store so each part stays small. It builds SELECTs and runs nothing.

A statement is built once per *shape* (which filters are set, the order) with bound
parameters, and the values go in at execution. Building it and making its cache key
cost ~160 µs a page, more than SQLite's query of the 50 rows."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, bindparam, func, or_, select, tuple_

from cloudai.domain.task import TaskStatus
from cloudai.store import rows
from cloudai.store.tables import FileRow, TaskRow

_SEARCHED = (TaskRow.task_id, TaskRow.name, TaskRow.docker_image)
_ESCAPE = "/"  # the LIKE escape of a search, as SQLAlchemy's autoescape uses
_AT = TaskRow.created_at.type

Shape = tuple[bool, bool, frozenset[str]]  # the order, with_files, the parameters' names


class TaskListings:
    """The listing statements by shape, built on first use: at most 2^10 of them (eight
    optional filters, two orders, with or without files), one store's own."""

    def __init__(self) -> None:
        self._by_shape: dict[Shape, Select[Any]] = {}

    def statement(
        self,
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
    ) -> tuple[Select[Any], dict[str, Any]]:
        """Plain rows of the matching tasks (see `Store.list_tasks` for each filter),
        as a statement and its parameters."""
        given: dict[str, Any] = {
            "user_id": user_id, "worker_id": worker_id, "tag": tag,
            "statuses": None if statuses is None else [s.value for s in statuses],
            "since": None if since is None else rows.utc(since),
            "prefix": id_prefix, "search": None if search is None else _escaped(search),
        }  # fmt: skip
        if after is not None:
            given["after_at"], given["after_id"] = rows.utc(after[0]), after[1]
        parameters = {name: value for name, value in given.items() if value is not None}
        if id_prefix is not None:
            parameters["prefix_length"] = len(id_prefix)
        parameters["limit"], parameters["offset"] = limit, offset
        shape = (newest_first, with_files, frozenset(parameters))
        stmt = self._by_shape.get(shape)
        if stmt is None:
            stmt = self._by_shape[shape] = _build(set(parameters), newest_first, with_files)
        return stmt, parameters


def _build(named: set[str], newest_first: bool, with_files: bool) -> Select[Any]:
    conditions = [
        column == bindparam(name)
        for name, column in (
            ("user_id", TaskRow.user_id), ("worker_id", TaskRow.worker_id), ("tag", TaskRow.tag),
        )
        if name in named
    ]  # fmt: skip
    conditions += _matching(named, with_files)
    if "statuses" in named:
        conditions.append(TaskRow.status.in_(bindparam("statuses", expanding=True)))
    if "since" in named:
        conditions.append(TaskRow.created_at >= bindparam("since", type_=_AT))
    if "after_at" in named:
        key = tuple_(TaskRow.created_at, TaskRow.task_id)
        bound = tuple_(bindparam("after_at", type_=_AT), bindparam("after_id"))
        conditions.append(key < bound if newest_first else key > bound)
    order = (
        (TaskRow.created_at.desc(), TaskRow.task_id.desc())
        if newest_first
        else (TaskRow.created_at.asc(), TaskRow.task_id.asc())
    )
    stmt = select(*TaskRow.__table__.columns).where(*conditions).order_by(*order)
    return stmt.limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))


def _matching(named: set[str], with_files: bool) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if "prefix" in named:  # substr, not LIKE: SQLite's LIKE ignores case
        length = bindparam("prefix_length", type_=Integer)
        conditions.append(func.substr(TaskRow.task_id, 1, length) == bindparam("prefix"))
    if "search" in named:
        term = bindparam("search", type_=String)
        conditions.append(or_(*(c.icontains(term, escape=_ESCAPE) for c in _SEARCHED)))
    if with_files:
        has_files = select(FileRow.task_id).where(FileRow.task_id == TaskRow.task_id).exists()
        conditions.append(has_files)
    return conditions


def _escaped(search: str) -> str:
    """`search` with LIKE's wildcards made literal."""
    return (
        search.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    )
