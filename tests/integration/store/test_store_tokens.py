"""The `Store` contract for credentials (session generations, personal API tokens), on
SQLite, PostgreSQL and the in-memory fake like the rest of the suite."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloudai.domain.errors import Conflict
from cloudai.domain.users import ApiToken, Role, User
from cloudai.ports import Store

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
ALICE = User("u1", "alice@example.com", "Alice", "$argon2id$old", Role.USER, T0)


def token(token_id: str, user_id: str = "u1", **changes: Any) -> ApiToken:
    made = ApiToken(token_id, user_id, f"name {token_id}", f"hash-{token_id}", T0)
    return dataclasses.replace(made, **changes)


async def test_a_new_user_is_at_generation_zero_and_each_bump_counts(store: Store) -> None:
    await store.add_user(ALICE)
    assert (await store.get_user("u1")) == ALICE and ALICE.session_generation == 0
    assert await store.revoke_sessions("u1") == 1
    assert await store.revoke_sessions("u1") == 2
    stored = await store.get_user("u1")
    assert stored is not None and stored.session_generation == 2
    assert stored.password_hash == ALICE.password_hash  # revoking leaves the password
    assert await store.revoke_sessions("nobody") is None


async def test_set_password_replaces_the_hash_and_bumps_the_generation(store: Store) -> None:
    await store.add_user(ALICE)
    assert await store.set_password("u1", "$argon2id$new") == 1
    stored = await store.get_user_by_email("alice@example.com")
    assert stored == dataclasses.replace(ALICE, password_hash="$argon2id$new", session_generation=1)
    assert await store.set_password("nobody", "$argon2id$x") is None


async def test_api_tokens_round_trip_by_hash_and_list_oldest_first(store: Store) -> None:
    later = token("tok-b", created_at=T0 + timedelta(seconds=1), expires_at=T0 + timedelta(days=1))
    first = token("tok-a")
    other = token("tok-c", user_id="u2")
    for made in (later, first, other):
        await store.add_api_token(made)
    assert await store.get_api_token("hash-tok-b") == later
    assert await store.get_api_token("hash-nothing") is None
    assert await store.list_api_tokens("u1") == [first, later]
    assert await store.list_api_tokens("u2") == [other]
    assert await store.list_api_tokens("u3") == []


async def test_duplicate_token_ids_and_hashes_conflict(store: Store) -> None:
    await store.add_api_token(token("tok-a"))
    with pytest.raises(Conflict):
        await store.add_api_token(token("tok-a", token_hash="hash-other"))
    with pytest.raises(Conflict):
        await store.add_api_token(token("tok-b", token_hash="hash-tok-a"))
    assert [t.token_id for t in await store.list_api_tokens("u1")] == ["tok-a"]


async def test_a_token_is_deleted_only_by_its_owner(store: Store) -> None:
    await store.add_api_token(token("tok-a"))
    assert await store.delete_api_token("u2", "tok-a") is False
    assert await store.get_api_token("hash-tok-a") is not None
    assert await store.delete_api_token("u1", "tok-a") is True
    assert await store.get_api_token("hash-tok-a") is None
    assert await store.delete_api_token("u1", "tok-a") is False


async def test_touch_records_the_last_use_in_utc(store: Store) -> None:
    await store.add_api_token(token("tok-a"))
    used = datetime(2026, 3, 2, 14, 0, 0, 5, tzinfo=UTC)
    await store.touch_api_token("tok-a", used)
    found = await store.get_api_token("hash-tok-a")
    assert found is not None and found.last_used_at == used
    assert found.last_used_at.tzinfo is not None
    await store.touch_api_token("tok-gone", used)  # a deleted token: nothing to do


async def test_prune_deletes_only_tokens_expired_before_the_cutoff(store: Store) -> None:
    await store.add_api_token(token("tok-old", expires_at=T0 - timedelta(seconds=1)))
    await store.add_api_token(token("tok-now", expires_at=T0))
    await store.add_api_token(token("tok-never"))
    assert await store.prune_api_tokens(T0) == 1
    assert [t.token_id for t in await store.list_api_tokens("u1")] == ["tok-never", "tok-now"]
