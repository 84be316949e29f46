"""Run the store contract suite against SQLite, PostgreSQL and the in-memory fake.

Each test gets an empty store. The SQL-only tests (migrations) take `db_url`, which
covers SQLite and PostgreSQL; the contract tests take `store`, which adds the fake.

PostgreSQL comes from CLOUDAI_TEST_POSTGRES_URL (CI starts it). When it cannot be
reached the postgres tests fail rather than skip, so a broken CI setup is noticed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from cloudai.ports import Store
from cloudai.store import open_store
from cloudai.store.memory import InMemoryStore

DEFAULT_POSTGRES_URL = "postgresql+psycopg://cloudai:cloudai@127.0.0.1:5432/cloudai_test"

SQL_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
BACKENDS = [*SQL_BACKENDS, pytest.param("memory", id="memory")]


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A new database, named after the configured one, dropped afterwards.

    A database per test isolates tests (and concurrent CI runs) completely.
    """
    base = make_url(os.environ.get("CLOUDAI_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    name = f"{base.database}_{uuid.uuid4().hex[:12]}"
    # CREATE/DROP DATABASE cannot run inside a transaction.
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        try:
            async with admin.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as exc:
            pytest.fail(f"PostgreSQL is not reachable at {base!r}: {exc}")
        yield base.set(database=name).render_as_string(hide_password=False)
        async with admin.connect() as conn:
            # FORCE: a test that failed may have left a connection open.
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@asynccontextmanager
async def empty_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database (not migrated) on the SQL `backend`."""
    if backend == "sqlite":
        # A directory that does not exist yet: opening the store must create it.
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'cloudai.db'}"
        return
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=SQL_BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database (not migrated), for the SQL-only tests."""
    async with empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An empty store: the in-memory fake, or a SQL store on a new migrated database."""
    if request.param == "memory":
        yield InMemoryStore()
        return
    async with empty_database(request.param, tmp_path) as url:
        opened = await open_store(url)
        try:
            yield opened
        finally:
            await opened.close()
