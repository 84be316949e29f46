"""Statements run on the driver's cursor (`store/prepared.py`), on SQLite and
PostgreSQL: values go in converted as `Connection.execute` converts them, literals the
statement carries are bound, driver errors come out as SQLAlchemy's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from cloudai.store.engine import make_engine, upgrade_to_head
from cloudai.store.prepared import Prepared
from cloudai.store.sql_statements import EVENTS, TASKS


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


def _event(at: datetime) -> dict[str, object]:
    return {"task_id": "t-1", "at": at, "from_status": None, "to_status": "queued",
            "reason": "submitted", "epoch": 0}  # fmt: skip


def test_values_are_converted_as_execute_converts_them(engine: Engine) -> None:
    at = datetime(2026, 12, 3, 10, 0, 0, 0, tzinfo=UTC)  # whole seconds: no microseconds
    prepared = Prepared(insert(EVENTS), engine.dialect)
    with engine.begin() as conn:
        assert prepared.rowcount(conn, _event(at)) == 1
        conn.execute(insert(EVENTS), _event(at))  # the same row, the usual way
    with engine.connect() as conn:
        found = conn.execute(select(EVENTS.c.at, EVENTS.c.reason)).all()
    assert [tuple(r) for r in found] == [tuple(found[1])] * 2
    assert found[0].at.replace(tzinfo=UTC) == at


def test_literals_the_statement_carries_are_bound(engine: Engine) -> None:
    counted = select(EVENTS.c.reason).where(
        EVENTS.c.task_id == bindparam("task_id"), EVENTS.c.epoch == 0
    )
    with engine.begin() as conn:
        Prepared(insert(EVENTS), engine.dialect).rowcount(conn, _event(datetime.now(UTC)))
        found = Prepared(counted, engine.dialect).rows(conn, {"task_id": "t-1"})
    assert found == [("submitted",)]


def test_a_driver_error_comes_out_as_sqlalchemys(engine: Engine) -> None:
    prepared = Prepared(insert(TASKS), engine.dialect)
    row = {c.name: None for c in TASKS.c} | {"task_id": "t-1"}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        prepared.rowcount(conn, row)  # NOT NULL columns left empty


def test_an_expanding_parameter_is_refused(engine: Engine) -> None:
    statuses = select(TASKS.c.task_id).where(TASKS.c.status.in_(["queued", "running"]))
    with engine.begin() as conn, pytest.raises(ValueError, match="expanding"):
        Prepared(statuses, engine.dialect).rows(conn, {})
