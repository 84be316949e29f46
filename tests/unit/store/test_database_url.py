"""Database URLs: the driver made explicit, anything else refused in one clear line."""

from __future__ import annotations

import pytest

from cloudai.domain.errors import InvalidRequest
from cloudai.store.engine import normalize_url, shown_url


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("postgres://u:pw@db:5432/cloudai", "postgresql+psycopg://u:pw@db:5432/cloudai"),
        ("postgresql://u:pw@db/cloudai", "postgresql+psycopg://u:pw@db/cloudai"),
        ("postgres+psycopg://u@db/cloudai", "postgresql+psycopg://u@db/cloudai"),
        ("postgresql+psycopg://u:pw@db/c?sslmode=require", "postgresql+psycopg://u:pw@db/c?sslmode=require"),
        ("POSTGRESQL://u@db/c", "postgresql+psycopg://u@db/c"),
        ("sqlite:///data/cloudai.db", "sqlite+aiosqlite:///data/cloudai.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:////abs/cloudai.db", "sqlite+aiosqlite:////abs/cloudai.db"),
    ],
)  # fmt: skip
def test_a_url_without_a_driver_gets_the_async_one(given: str, meant: str) -> None:
    assert normalize_url(given).render_as_string(hide_password=False) == meant


@pytest.mark.parametrize(
    "url",
    ["mysql://root:s3cret@db/x", "sqlite+pysqlite://u:s3cret@/x.db",
     "postgresql+psycopg2://u:s3cret@db/x", "postgresql+asyncpg://u:s3cret@db/x",
     "oracle://u:s3cret@db"],
)  # fmt: skip
def test_other_databases_and_drivers_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest, match="unsupported database URL") as caught:
        normalize_url(url)
    assert "s3cret" not in str(caught.value) and ":***@" in str(caught.value)
    assert "sqlite+aiosqlite:///PATH" in str(caught.value)  # says what would work


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("not a url", "'not a url'"),
        ("://nothing", "'://nothing'"),
        ("postgresql://u:sekrit@db:port/x", "'postgresql://u:***@db:port/x'"),
        ("postgresql://u:se@krit@db:nan/x", "'postgresql://u:***@db:nan/x'"),
    ],
)
def test_malformed_urls_are_refused_without_their_password(url: str, shown: str) -> None:
    with pytest.raises(InvalidRequest, match="malformed database URL") as caught:
        normalize_url(url)
    assert shown in str(caught.value) and "krit" not in str(caught.value)


def test_shown_url_hides_the_password() -> None:
    url = normalize_url("postgres://cloudai:s3cret@db:5432/cloudai")
    assert shown_url(url) == "postgresql+psycopg://cloudai:***@db:5432/cloudai"
