"""The task listing builds one statement per shape; the values are its parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cloudai.domain.task import TaskStatus
from cloudai.store.sql_listing import TaskListings

NONE: dict[str, Any] = {
    "user_id": None, "statuses": None, "limit": 50, "offset": 0, "newest_first": True,
    "worker_id": None, "after": None, "tag": None, "since": None, "with_files": False,
    "id_prefix": None, "search": None,
}  # fmt: skip


def test_the_same_shape_reuses_its_statement_with_other_values() -> None:
    listings = TaskListings()
    first, ada = listings.statement(**{**NONE, "user_id": "ada", "limit": 10})
    again, bob = listings.statement(**{**NONE, "user_id": "bob", "offset": 5})
    assert again is first
    assert ada == {"user_id": "ada", "limit": 10, "offset": 0}
    assert bob == {"user_id": "bob", "limit": 50, "offset": 5}


def test_another_filter_or_order_is_another_statement() -> None:
    listings = TaskListings()
    mine, _ = listings.statement(**{**NONE, "user_id": "ada"})
    queued, values = listings.statement(
        **{**NONE, "user_id": "ada", "statuses": [TaskStatus.QUEUED]}
    )
    oldest_first, _ = listings.statement(**{**NONE, "user_id": "ada", "newest_first": False})
    assert len({id(mine), id(queued), id(oldest_first)}) == 3
    assert values["statuses"] == ["queued"]


def test_values_are_converted_once_for_the_database() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    _, values = TaskListings().statement(
        **{**NONE, "after": (at, "task-9"), "id_prefix": "task-", "search": "50%_/x"}
    )
    assert values["after_at"] == at and values["after_id"] == "task-9"
    assert values["prefix"] == "task-" and values["prefix_length"] == 5
    assert values["search"] == "50/%/_//x"  # LIKE's wildcards and its escape made literal
