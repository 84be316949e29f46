"""The store's statement runner (`store/database.py`) on a real SQLite file: writes that
queue while one commits share the next transaction; a failing one takes no other with it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from cloudai.store.database import Database
from cloudai.store.engine import make_engine


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    await db.write(lambda conn: conn.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY)"))
    yield db
    await db.close()


def _insert(key: str) -> Any:
    def insert(conn: Connection) -> str:
        conn.execute(text("INSERT INTO t VALUES (:k)"), {"k": key})
        return key

    return insert


async def _keys(db: Database) -> list[str]:
    return await db.read(lambda conn: [r[0] for r in conn.execute(text("SELECT k FROM t"))])


async def _behind_a_held_write(database: Database, keys: list[str]) -> list[Any]:
    """Queue writes of `keys` while the writer is inside another write; their outcomes."""
    started, gate = threading.Event(), threading.Event()

    def held(conn: Connection) -> str:
        started.set()
        gate.wait(timeout=30)  # keeps the writer busy while the others queue
        return _insert("first")(conn)

    first = asyncio.create_task(database.write(held))
    assert await asyncio.to_thread(started.wait, 30)  # the writer is in it, alone
    others = [asyncio.create_task(database.write(_insert(k))) for k in keys]
    await asyncio.sleep(0)  # one turn of the loop: every task has queued its write
    gate.set()
    assert await first == "first"
    return await asyncio.gather(*others, return_exceptions=True)


async def test_writes_queued_behind_a_commit_share_the_next_one(database: Database) -> None:
    commits: list[int] = []
    event.listen(database.engine, "commit", lambda _conn: commits.append(1))
    assert await _behind_a_held_write(database, ["a", "b", "c"]) == ["a", "b", "c"]
    assert sorted(await _keys(database)) == ["a", "b", "c", "first"]
    assert len(commits) == 2  # the first alone, then the three queued behind it


async def test_a_failure_in_a_group_takes_no_other_write_with_it(database: Database) -> None:
    outcomes = await _behind_a_held_write(database, ["a", "b", "a", "c"])
    assert outcomes[:2] == ["a", "b"] and outcomes[3] == "c"
    assert isinstance(outcomes[2], IntegrityError)  # the duplicate alone failed
    assert sorted(await _keys(database)) == ["a", "b", "c", "first"]


async def test_a_write_alone_that_raises_commits_nothing(database: Database) -> None:
    def half_then_fail(conn: Connection) -> None:
        _insert("x")(conn)
        raise RuntimeError("changed its mind")

    with pytest.raises(RuntimeError, match="changed its mind"):
        await database.write(half_then_fail)
    assert await _keys(database) == []


async def test_a_cancelled_caller_does_not_undo_its_write(database: Database) -> None:
    gate = threading.Event()

    def slow(conn: Connection) -> str:
        gate.wait(timeout=30)
        return _insert("kept")(conn)

    write = asyncio.create_task(database.write(slow))
    await asyncio.sleep(0)
    write.cancel()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await write
    assert await database.write(_insert("after")) == "after"  # the writer goes on
    assert sorted(await _keys(database)) == ["after", "kept"]
