"""Engines and schema migrations for the SQL store (no I/O until called)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_MIGRATIONS = Path(__file__).with_name("migrations")
_SQLITE_BUSY_TIMEOUT_MS = 5000


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic config built in code, so nothing depends on the CWD or an alembic.ini."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    # Passed as attributes, not main options: configparser would choke on '%' in URLs.
    cfg.attributes["url"] = url
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def make_engine(url: str) -> AsyncEngine:
    """An AsyncEngine for `url`; on SQLite also the db directory and per-connection pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pre_ping: a long-lived master must survive a database restart.
        return create_async_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; busy_timeout makes a second process wait
    # for the write lock instead of failing at once with "database is locked".
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _upgrade_head(connection: Connection) -> None:
    command.upgrade(alembic_config(connection=connection), "head")


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Run the migrations on `engine` in one transaction (where the backend allows).

    Alembic is synchronous: `run_sync` hands it the engine's connection, so the event
    loop is not blocked on database I/O and no second engine is needed.
    """
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_head)
