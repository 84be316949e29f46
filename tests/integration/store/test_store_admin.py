"""The `Store` contract for administration (users' flags, workers' one-time
registrations, deleting a worker or a whole task), on SQLite, PostgreSQL and the fake."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from cloudai.domain.registrations import Registration
from cloudai.domain.resources import Resources
from cloudai.domain.task import OutputFile, TaskResult, TaskStatus
from cloudai.domain.users import ApiToken, Role, User
from cloudai.domain.workers import Worker, WorkerStatus
from cloudai.ports import Store
from tests.integration.store.test_store import T0, add, assign, make_task

ALICE = User("u1", "alice@example.com", "Alice", "$argon2id$a", Role.USER, T0)
BOB = User("u2", "bob@example.com", "Bob", "$argon2id$b", Role.USER, T0 + timedelta(seconds=1))


def registration(token_hash: str = "h1", worker_id: str | None = None) -> Registration:
    return Registration(token_hash, "10.0.0.9:50052", T0, T0 + timedelta(minutes=10), worker_id)


async def test_users_list_oldest_first_and_flags_change_only_what_is_named(store: Store) -> None:
    await store.add_user(BOB)
    await store.add_user(ALICE)
    assert await store.list_users() == [ALICE, BOB]
    assert ALICE.disabled is False
    disabled = await store.set_user_flags("u1", disabled=True)
    assert disabled == dataclasses.replace(ALICE, disabled=True)
    admin = await store.set_user_flags("u1", role=Role.ADMIN)
    assert admin == dataclasses.replace(ALICE, disabled=True, role=Role.ADMIN)
    assert await store.get_user("u1") == admin
    assert await store.set_user_flags("u1") == admin  # nothing named: unchanged
    assert await store.set_user_flags("nobody", disabled=True) is None
    assert await store.get_user("u2") == BOB


async def test_delete_api_tokens_takes_only_that_users(store: Store) -> None:
    for token_id, user_id in (("a", "u1"), ("b", "u1"), ("c", "u2")):
        await store.add_api_token(ApiToken(token_id, user_id, token_id, f"hash-{token_id}", T0))
    assert await store.delete_api_tokens("u1") == 2
    assert await store.list_api_tokens("u1") == []
    assert [t.token_id for t in await store.list_api_tokens("u2")] == ["c"]
    assert await store.delete_api_tokens("u1") == 0


async def test_a_registration_is_redeemed_once_for_its_worker_before_expiry(store: Store) -> None:
    await store.add_registration(registration("named", worker_id="w1"))
    await store.add_registration(registration("any"))
    at = T0 + timedelta(minutes=1)
    assert await store.redeem_registration("named", "w2", at) is None  # another worker
    used = await store.redeem_registration("named", "w1", at)
    assert used == dataclasses.replace(registration("named", "w1"), used_at=at, used_by="w1")
    assert await store.redeem_registration("named", "w1", at) is None  # once only
    late = T0 + timedelta(minutes=10)
    assert await store.redeem_registration("any", "w7", late) is None  # expired
    assert await store.redeem_registration("missing", "w1", at) is None
    assert [r.token_hash for r in await store.list_registrations()] == ["any", "named"]


async def test_racing_redeems_have_exactly_one_winner(store: Store) -> None:
    await store.add_registration(registration())
    at = T0 + timedelta(seconds=5)
    won = await asyncio.gather(*(store.redeem_registration("h1", f"w{i}", at) for i in range(5)))
    assert sum(r is not None for r in won) == 1


async def test_prune_registrations_drops_the_expired(store: Store) -> None:
    await store.add_registration(registration("old"))
    fresh = dataclasses.replace(registration("new"), expires_at=T0 + timedelta(days=1))
    await store.add_registration(fresh)
    assert await store.prune_registrations(T0 + timedelta(hours=1)) == 1
    assert await store.list_registrations() == [fresh]


async def test_delete_worker_forgets_its_row(store: Store) -> None:
    worker = Worker("w1", "10.0.0.1:1", Resources(1, 1, 1, 0), WorkerStatus.ACTIVE, T0, T0)
    await store.upsert_worker(worker)
    assert await store.delete_worker("w1") is True
    assert await store.get_worker("w1") is None and await store.list_workers() == []
    assert await store.delete_worker("w1") is False


async def test_delete_task_removes_every_row_of_it_and_nothing_else(store: Store) -> None:
    task = await add(store, make_task("t1"))
    other = await add(store, make_task("t2"))
    assigned, event, attempt = assign(task, "w1", T0)
    result = TaskResult("t1", 1, "w1", TaskStatus.COMPLETED, 0, "", 3, T0)
    assert await store.save_task(
        assigned, expected_status=TaskStatus.QUEUED, expected_epoch=0, events=[event],
        attempt=attempt, result=result,
    )  # fmt: skip
    for task_id in ("t1", "t2"):
        await store.replace_files(task_id, [OutputFile("out.txt", 3, "ab")])
    assert await store.delete_task("t1") is True
    assert await store.get_task("t1") is None
    assert await store.list_events("t1") == [] and await store.list_attempts("t1") == []
    assert await store.get_result("t1") is None and await store.list_files("t1") == []
    assert await store.get_task("t2") == other and len(await store.list_files("t2")) == 1
    assert len(await store.list_events("t2")) == 1
    assert await store.delete_task("t1") is False
