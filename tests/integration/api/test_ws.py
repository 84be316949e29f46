"""The WebSocket streams on the in-process master (fake clock, fake gateway), served by
uvicorn on a loopback port: admission, telemetry, events, refusals, slow subscribers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from cloudai.api.app import create_app
from cloudai.domain.resources import Resources
from cloudai.domain.task import AttemptReport, TaskStatus
from cloudai.domain.workers import Usage
from cloudai.master.bus import DEFAULT_CAPACITY, TaskChanged
from cloudai.master.core import MasterCore
from tests.integration.api.cluster_support import BIG, admin_headers, place, submit
from tests.integration.api.conftest import login
from tests.integration.api.ws_support import receive, serving, token_of, until_closed, ws

POLICY, TRY_AGAIN = 1008, 1013


@pytest.fixture
async def port(core: MasterCore) -> AsyncIterator[int]:
    app = create_app(core.services, cors_origins=["http://dashboard.example:3000"])
    async with serving(app) as bound:
        yield bound


async def test_a_handshake_without_credential_is_closed_1008(port: int) -> None:
    for path in ("/ws/events", "/ws/telemetry", "/ws/tasks/task-x/logs"):
        async with ws(port, path) as client:
            closed = await until_closed(client)
        assert closed.messages == []
        assert closed.code == POLICY and "authentication required" in closed.reason


async def test_a_bad_token_is_closed_1008(port: int) -> None:
    async with ws(port, "/ws/events?token=not-a-token") as client:
        closed = await until_closed(client)
    assert closed.messages == [] and closed.code == POLICY


@pytest.mark.parametrize("how", ["bearer", "query", "cookie"])
async def test_each_credential_opens_a_stream(api: httpx.AsyncClient, port: int, how: str) -> None:
    token = token_of(await login(api, "ann"))
    path, headers, bearer = "/ws/events", {}, None
    if how == "bearer":
        bearer = token
    elif how == "query":
        path += f"?token={token}"
    else:
        headers = {"Cookie": f"cloudai_token={token}"}
    async with ws(port, path, bearer, headers=headers) as client:
        assert (await receive(client))["type"] == "connected"


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://evil.example", False),
        ("null", False),
        ("http://127.0.0.1:1", False),  # same host, another port: another origin
        ("http://dashboard.example:3000", True),  # CLOUDAI_CORS_ORIGINS
        ("http://127.0.0.1:{port}", True),  # the master's own pages
    ],
)
async def test_a_browser_handshake_must_come_from_an_allowed_origin(
    api: httpx.AsyncClient, port: int, origin: str, allowed: bool
) -> None:
    # The cookie is what a foreign page's handshake would carry along.
    cookie = {"Cookie": f"cloudai_token={token_of(await login(api, 'ann'))}"}
    async with ws(port, "/ws/events", headers=cookie, origin=origin.format(port=port)) as client:
        if allowed:
            assert (await receive(client))["type"] == "connected"
            return
        closed = await until_closed(client)
    assert closed.messages == []
    assert closed.code == POLICY and "origin" in closed.reason


async def test_telemetry_is_a_snapshot_then_an_update_per_heartbeat(
    api: httpx.AsyncClient, core: MasterCore, port: int
) -> None:
    await core.registry.register("w1", "10.0.0.1:50052", BIG)
    await core.registry.register("w2", "10.0.0.2:50052", Resources(2, 4, 10, 0))
    ann, bob = await login(api, "ann"), await login(api, "bob")
    bobs = await submit(api, bob, target_worker_id="w1", cpu_required=1.5)
    await place(core)
    admin = await admin_headers(api, core)

    async with (
        ws(port, "/ws/telemetry", token_of(ann)) as as_ann,
        ws(port, "/ws/telemetry", token_of(admin)) as as_admin,
    ):
        snapshot = await receive(as_ann)
        assert snapshot["type"] == "telemetry" and snapshot["snapshot"] is True
        assert sorted(snapshot["workers"]) == ["w1", "w2"]
        w1 = snapshot["workers"]["w1"]
        assert w1["is_active"] is True and w1["running_tasks_count"] == 1
        assert w1["running_tasks"] == []  # bob's task: ann sees the count, not the id
        held = (await receive(as_admin))["workers"]["w1"]["running_tasks"]
        assert held == [{"task_id": bobs, "cpu_allocated": 1.5, "memory_allocated": 0.5,
                         "gpu_allocated": 0, "status": "assigned"}]  # fmt: skip

        core.clock.advance(5)
        await core.registry.heartbeat("w2", Usage(cpu=42.0, memory=10.0, storage=1.0, gpu=0.0))
        update = await receive(as_ann)
        assert update["snapshot"] is False and list(update["workers"]) == ["w2"]
        w2 = update["workers"]["w2"]
        assert (w2["cpu_usage"], w2["memory_usage"], w2["gpu_usage"]) == (42.0, 10.0, 0.0)
        assert w2["last_update"] == core.clock.now().timestamp()


async def test_telemetry_of_one_worker_skips_the_others(
    api: httpx.AsyncClient, core: MasterCore, port: int
) -> None:
    await core.registry.register("w1", "10.0.0.1:50052", BIG)
    await core.registry.register("w2", "10.0.0.2:50052", BIG)
    ann = token_of(await login(api, "ann"))
    async with ws(port, "/ws/telemetry/w2", ann) as client:
        assert list((await receive(client))["workers"]) == ["w2"]
        await core.registry.heartbeat("w1", Usage(cpu=1.0))
        await core.registry.heartbeat("w2", Usage(cpu=2.0))
        update = await receive(client)  # w1's heartbeat never came through
        assert update["workers"]["w2"]["cpu_usage"] == 2.0 and list(update["workers"]) == ["w2"]
    async with ws(port, "/ws/telemetry/w9", ann) as client:
        closed = await until_closed(client)
    assert closed.messages == [] and closed.code == POLICY and "not found" in closed.reason


async def test_events_follow_a_task_from_queued_to_completed(
    api: httpx.AsyncClient, core: MasterCore, port: int
) -> None:
    await core.registry.register("w1", "10.0.0.1:50052", BIG)
    ann = await login(api, "ann")
    async with ws(port, "/ws/events", token_of(ann)) as client:
        assert (await receive(client))["type"] == "connected"  # subscribed from here on
        task_id = await submit(api, ann)
        await place(core)
        await core.lifecycle.started(task_id, 1, "w1")
        report = AttemptReport(task_id, 1, "w1", TaskStatus.COMPLETED, 0, "exit code 0", False, 0)
        await core.lifecycle.finished(report)
        moves = [await receive(client) for _ in range(4)]
    assert [(m["from_status"], m["to_status"]) for m in moves] == [
        (None, "queued"), ("queued", "assigned"), ("assigned", "running"),
        ("running", "completed"),
    ]  # fmt: skip
    assert {m["task_id"] for m in moves} == {task_id} and moves[1]["epoch"] == 1


async def test_users_see_their_own_task_events_admins_all(
    api: httpx.AsyncClient, core: MasterCore, port: int
) -> None:
    ann, bob = await login(api, "ann"), await login(api, "bob")
    admin = await admin_headers(api, core)
    async with (
        ws(port, "/ws/events", token_of(ann)) as as_ann,
        ws(port, "/ws/events", token_of(admin)) as as_admin,
    ):
        assert (await receive(as_ann))["all_users"] is False
        assert (await receive(as_admin))["all_users"] is True
        bobs = await submit(api, bob)
        anns = await submit(api, ann)
        assert (await receive(as_ann))["task_id"] == anns  # bob's came first, not to ann
        assert [(await receive(as_admin))["task_id"] for _ in range(2)] == [bobs, anns]


async def test_a_subscriber_that_falls_behind_is_dropped_with_an_error(
    api: httpx.AsyncClient, core: MasterCore, port: int
) -> None:
    ann = await login(api, "ann")
    me = (await api.get("/api/auth/me", headers=ann)).json()["user_id"]
    async with ws(port, "/ws/events", token_of(ann)) as client:
        assert (await receive(client))["type"] == "connected"
        at = datetime(2026, 1, 1, tzinfo=UTC)
        for n in range(DEFAULT_CAPACITY + 1):  # faster than any stream drains: no await
            core.bus.publish(TaskChanged(f"t{n}", me, None, TaskStatus.QUEUED, 0, "", at))
        closed = await until_closed(client)
    assert closed.code == TRY_AGAIN and closed.reason == "fell behind"
    assert closed.messages[-1] == {"type": "error", "error": "too slow: fell behind the events"}
    assert len(closed.messages) < DEFAULT_CAPACITY  # what it had queued is not sent
    assert core.bus.subscribers == 0


async def test_another_users_task_log_is_refused_without_data(
    api: httpx.AsyncClient, core: MasterCore, port: int
) -> None:
    ann, bob = await login(api, "ann"), await login(api, "bob")
    bobs = await submit(api, bob)
    for task_id in (bobs, "task-nope"):
        async with ws(port, f"/ws/tasks/{task_id}/logs", token_of(ann)) as client:
            closed = await until_closed(client)
        assert closed.messages == []
        assert closed.code == POLICY and closed.reason == f"task {task_id} not found"


@pytest.mark.parametrize("query", ["attempt=0", "offset=-1", "offset=x", "attempt=" + "9" * 30])
async def test_a_bad_log_position_is_refused(api: httpx.AsyncClient, port: int, query: str) -> None:
    ann = await login(api, "ann")
    task_id = await submit(api, ann)
    async with ws(port, f"/ws/tasks/{task_id}/logs?{query}", token_of(ann)) as client:
        closed = await until_closed(client)
    assert (
        closed.messages == []
        and closed.code == POLICY
        and "must be a whole number" in (closed.reason)
    )
