"""Engines and schema migrations for the SQL store (no I/O until called)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import StaticPool

from cloudai.domain.errors import InvalidRequest, Unavailable

_MIGRATIONS = Path(__file__).with_name("migrations")
_SQLITE_BUSY_TIMEOUT_MS = 5000
# A host that drops packets must not hold the start-up for minutes.
_POSTGRES_CONNECT_TIMEOUT_S = 5

# The drivers users name (what a URL without a driver means), and the synchronous
# DBAPI each runs on: the store calls them from its own threads (store/database.py).
_DEFAULT_DRIVER = {"sqlite": "aiosqlite", "postgresql": "psycopg"}
_SYNC_DRIVER = {
    "sqlite+aiosqlite": "sqlite+pysqlite",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
}
_SUPPORTED = set(_SYNC_DRIVER)
_BACKEND_ALIASES = {"postgres": "postgresql"}  # what Heroku and libpq tools write
_EXPECTED = "use sqlite+aiosqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB"
_PASSWORD_IN_RAW_URL = re.compile(r"^([^:/]*://[^:@/]*):.*@")


def normalize_url(url: str) -> URL:
    """`url` parsed, its driver made explicit (``postgres://`` and ``postgresql://``
    become ``postgresql+psycopg://``, ``sqlite://`` becomes ``sqlite+aiosqlite://``).

    Raises InvalidRequest for a URL that does not parse or names another database."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
        shown = _PASSWORD_IN_RAW_URL.sub(r"\1:***@", url)
        raise InvalidRequest(f"malformed database URL '{shown}': {_EXPECTED}") from exc
    backend, _, driver = parsed.drivername.lower().partition("+")
    backend = _BACKEND_ALIASES.get(backend, backend)
    drivername = f"{backend}+{driver or _DEFAULT_DRIVER.get(backend, '')}"
    if drivername not in _SUPPORTED:
        raise InvalidRequest(f"unsupported database URL '{shown_url(parsed)}': {_EXPECTED}")
    return parsed.set(drivername=drivername)


def shown_url(url: URL) -> str:
    """The URL for messages and logs: the password never appears."""
    return url.render_as_string(hide_password=True)


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


def make_engine(url: str) -> Engine:
    """A synchronous Engine for `url` (see `normalize_url`; the store runs it on its own
    threads); on SQLite also the db directory and per-connection pragmas."""
    parsed = normalize_url(url)
    driven = parsed.set(drivername=_SYNC_DRIVER[parsed.drivername])
    if parsed.get_backend_name() != "sqlite":
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in parsed.query:  # one in the URL itself wins over ours
            connect_args["connect_timeout"] = _POSTGRES_CONNECT_TIMEOUT_S
        # pre_ping: a long-lived master must survive a database restart.
        return create_engine(driven, pool_pre_ping=True, connect_args=connect_args)
    # The store's threads share the pooled connections (one at a time each).
    sqlite_args = {"check_same_thread": False}
    if not parsed.database or parsed.database == ":memory:":
        # One connection is the whole database: every thread gets that one.
        engine = create_engine(driven, poolclass=StaticPool, connect_args=sqlite_args)
    else:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # No rollback when a connection goes back to the pool: with SQLite's driver a
        # read opens no transaction, and every write commits or rolls back itself.
        engine = create_engine(driven, pool_reset_on_return=None, connect_args=sqlite_args)
    event.listen(engine, "connect", _sqlite_pragmas)
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


def upgrade_to_head(engine: Engine) -> None:
    """Run the migrations on `engine` in one transaction (where the backend allows).
    Blocking: call it from a thread when an event loop runs."""
    with connect(engine) as conn, conn.begin():
        command.upgrade(alembic_config(connection=conn), "head")


def connect(engine: Engine) -> Connection:
    """A connection; a database that cannot be reached or refuses us (wrong host,
    password or database name) raises Unavailable naming it, password hidden."""
    try:
        return engine.connect()
    except DBAPIError as exc:
        reason = " ".join(str(exc.orig).split())  # drivers' messages span lines
        raise Unavailable(f"cannot open the database {shown_url(engine.url)}: {reason}") from exc
