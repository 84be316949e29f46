"""Opening a store on a database that is not there, refuses us or is no database we
run on: a domain error naming the URL (password hidden), fast, never a driver's."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from cloudai.domain.errors import InvalidRequest, Unavailable
from cloudai.store import open_store
from cloudai.store.engine import shown_url
from tests.integration.store.conftest import DEFAULT_POSTGRES_URL, fresh_postgres_database


def local_postgres(*, password: str | None = None, database: str | None = None) -> str:
    """The test server's URL with a part changed (None: as configured)."""
    base = make_url(os.environ.get("CLOUDAI_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    return base.set(password=password, database=database).render_as_string(hide_password=False)


async def test_unreachable_postgres_is_unavailable_and_fast() -> None:
    started = time.monotonic()
    with pytest.raises(Unavailable, match="Connection refused") as caught:
        await open_store("postgresql://nobody:s3cret@127.0.0.1:1/x")
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "postgresql+psycopg://nobody:***@127.0.0.1:1/x" in message
    assert "s3cret" not in message and "\n" not in message


@pytest.mark.postgres
async def test_wrong_password_is_unavailable() -> None:
    url = local_postgres(password="wrong-s3cret")
    with pytest.raises(Unavailable, match="password authentication failed") as caught:
        await open_store(url)
    assert "wrong-s3cret" not in str(caught.value)
    assert shown_url(make_url(url)) in str(caught.value)


@pytest.mark.postgres
async def test_unknown_database_is_unavailable() -> None:
    with pytest.raises(Unavailable, match='database "cloudai_no_such_db" does not exist'):
        await open_store(local_postgres(database="cloudai_no_such_db"))


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
async def test_postgres_urls_without_a_driver_open(scheme: str) -> None:
    async with fresh_postgres_database() as url:
        store = await open_store(url.replace("postgresql+psycopg", scheme, 1))
        try:
            assert await store.get_task("task-none") is None
        finally:
            await store.close()


async def test_sqlite_url_without_a_driver_opens(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        assert await store.get_task("task-none") is None
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://root:s3cret@db/x", "unsupported database URL 'mysql://root:\\*\\*\\*@db/x'"),
        ("postgresql://u:s3cret@db:port/x", "malformed database URL"),
        ("not a url", "malformed database URL 'not a url'"),
    ],
)
async def test_urls_we_cannot_use_are_invalid(url: str, match: str) -> None:
    with pytest.raises(InvalidRequest, match=match) as caught:
        await open_store(url)
    assert "s3cret" not in str(caught.value)
