"""Alembic environment, driven from code (`cloudai.store.sql.migrate`) with no alembic.ini.

The caller either lends a sync connection in ``config.attributes["connection"]`` (the
store's own engine, `cloudai.store.engine.upgrade_to_head`) or names the database in
``config.attributes["url"]``; async URLs (``sqlite+aiosqlite``, ``postgresql+psycopg``)
are driven through ``asyncio.run`` here in that case.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from cloudai.store.tables import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migration environment")
    return str(url)


# SQLite cannot ALTER most things in place; batch mode makes autogenerate write
# migrations that recreate the table there (and plain ALTERs on PostgreSQL).
RENDER_AS_BATCH = True


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=metadata,
        render_as_batch=RENDER_AS_BATCH,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=RENDER_AS_BATCH
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations(url: str) -> None:
    # NullPool: this engine lives for one upgrade; keep no connections around.
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    lent = config.attributes.get("connection")
    if isinstance(lent, Connection):
        do_run_migrations(lent)
    else:
        asyncio.run(run_async_migrations(_url()))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
