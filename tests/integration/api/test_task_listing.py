"""The task list: filters (status, tag, since, owner for admins), newest first, and a
cursor that pages without gaps or repeats while tasks keep arriving."""

from __future__ import annotations

from typing import Any

import httpx

from cloudai.master.core import MasterCore
from cloudai.ports import FakeClock
from tests.integration.api.conftest import PASSWORD, login


async def submit(
    api: httpx.AsyncClient, core: MasterCore, auth: dict[str, str], **body: Any
) -> str:
    assert isinstance(core.clock, FakeClock)
    core.clock.advance(1)  # distinct, increasing submit times
    answer = await api.post("/api/tasks", json={"docker_image": "img", **body}, headers=auth)
    assert answer.status_code == 201, answer.text
    task_id: str = answer.json()["task_id"]
    return task_id


async def ids(api: httpx.AsyncClient, auth: dict[str, str], **params: Any) -> list[str]:
    answer = await api.get("/api/tasks", params=params, headers=auth)
    assert answer.status_code == 200, answer.text
    return [t["task_id"] for t in answer.json()["tasks"]]


async def test_filters_and_the_owner_filter_for_admins(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    ada, bob = await login(api, "ada"), await login(api, "bob")
    first = await submit(api, core, ada, tag="train")
    assert isinstance(core.clock, FakeClock)
    core.clock.advance(0.5)
    since = core.clock.now().isoformat()
    second = await submit(api, core, ada, tag="eval")
    theirs = await submit(api, core, bob, tag="train")
    await api.delete(f"/api/tasks/{second}", headers=ada)
    assert await ids(api, ada) == [second, first]
    assert await ids(api, ada, tag="train") == [first]
    assert await ids(api, ada, status="queued,cancelled") == [second, first]
    assert await ids(api, ada, status="cancelled") == [second]
    assert await ids(api, ada, since=since) == [second]
    bob_id = (await api.get("/api/auth/me", headers=bob)).json()["user_id"]
    refused = await api.get("/api/tasks", params={"user_id": bob_id}, headers=ada)
    assert refused.status_code == 403
    await core.accounts.ensure_admin("root@example.test", PASSWORD)
    session = await api.post(
        "/api/auth/login", json={"email": "root@example.test", "password": PASSWORD}
    )
    admin = {"Authorization": f"Bearer {session.json()['access_token']}"}
    assert await ids(api, admin) == [theirs, second, first]
    assert await ids(api, admin, user_id=bob_id) == [theirs]
    for bad in ({"status": "bogus"}, {"cursor": "not-a-cursor"}, {"since": "yesterday"}):
        assert (await api.get("/api/tasks", params=bad, headers=ada)).status_code == 422


async def test_the_cursor_pages_without_gaps_while_tasks_arrive(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    ada = await login(api, "ada")
    made = [await submit(api, core, ada) for _ in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/api/tasks", params=params, headers=ada)).json()
        seen += [t["task_id"] for t in page["tasks"]]
        await submit(api, core, ada)  # a newer task never shifts the pages after it
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made[::-1]


async def test_the_seeds_pending_means_queued_or_assigned(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    ada = await login(api, "ada")
    queued = await submit(api, core, ada)
    gone = await submit(api, core, ada)
    await api.delete(f"/api/tasks/{gone}", headers=ada)
    assert await ids(api, ada, status="pending") == [queued]
    assert await ids(api, ada, status="PENDING,queued") == [queued]


async def test_an_id_prefix_finds_your_tasks_only(api: httpx.AsyncClient, core: MasterCore) -> None:
    """The CLI's short ids: `id_prefix` narrows the listing; another user's never match."""
    ada, bob = await login(api, "ada"), await login(api, "bob")
    mine = [await submit(api, core, ada) for _ in range(3)]
    theirs = await submit(api, core, bob)
    assert await ids(api, ada, id_prefix=mine[0]) == [mine[0]]
    assert await ids(api, ada, id_prefix="task-") == mine[::-1]
    assert await ids(api, ada, id_prefix=theirs) == []
    assert await ids(api, ada, id_prefix="TASK-") == []  # case-sensitive
    assert (await api.get("/api/tasks", params={"id_prefix": ""}, headers=ada)).status_code == 422


async def test_a_search_matches_name_or_image_of_your_tasks_only(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    """The dashboard's search box: `q` narrows the listing on the server, in any case."""
    ada, bob = await login(api, "ada"), await login(api, "bob")
    train = await submit(api, core, ada, name="Nightly-Train")
    image = await submit(api, core, ada, docker_image="team/trainer:1")
    await submit(api, core, ada, name="eval")
    await submit(api, core, bob, name="train-bob")
    assert await ids(api, ada, q="TRAIN") == [image, train]
    assert await ids(api, ada, q=train[-6:]) == [train]
    assert (await api.get("/api/tasks", params={"q": ""}, headers=ada)).status_code == 422
