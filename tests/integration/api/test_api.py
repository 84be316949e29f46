"""The REST adapter in process: validation, auth, ownership, limits (no sockets)."""

from __future__ import annotations

import asyncio

import httpx
import jwt
import pytest

from cloudai.domain.resources import Resources
from cloudai.master.core import MasterCore
from tests.integration.api.conftest import PASSWORD, login


async def submit(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await api.post("/api/tasks", headers=headers, json={"docker_image": "i"})
    assert response.status_code == 201, response.text
    task_id: str = response.json()["task_id"]
    return task_id


async def test_register_login_me_and_cookie(api: httpx.AsyncClient) -> None:
    headers = await login(api, "ann")
    me = await api.get("/api/auth/me", headers=headers)
    assert me.json()["email"] == "ann@example.test" and me.json()["role"] == "user"
    assert "password_hash" not in me.text
    # The login also set the HttpOnly cookie the dashboard uses.
    assert (await api.get("/api/auth/me")).status_code == 200
    await api.post("/api/auth/logout")
    assert (await api.get("/api/auth/me")).status_code == 401


async def test_tokens_expire(api: httpx.AsyncClient, core: MasterCore) -> None:
    headers = await login(api, "old")
    core.clock.advance(24 * 3600 + 1)
    response = await api.get("/api/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_forged_token_is_refused(api: httpx.AsyncClient, core: MasterCore) -> None:
    forged = jwt.encode({"sub": "u-x", "exp": 9e9, "iat": 0, "jti": "j"}, "x" * 32, "HS256")
    response = await api.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "x", "email": "not-an-email", "password": PASSWORD}, 422),
        ({"name": "x", "email": "x@example.test", "password": "short"}, 422),
        ({"name": "x", "email": "x@example.test"}, 422),
        ({"name": "x", "email": "x@example.test", "password": PASSWORD, "role": "admin"}, 422),
    ],
)
async def test_registration_validates_input(
    api: httpx.AsyncClient, body: dict[str, str], status: int
) -> None:
    response = await api.post("/api/auth/register", json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"


async def test_duplicate_email_and_wrong_password(api: httpx.AsyncClient) -> None:
    await login(api, "bea")
    again = await api.post(
        "/api/auth/register",
        json={"name": "b", "email": "BEA@example.test", "password": PASSWORD},
    )
    assert again.status_code == 409
    wrong = await api.post(
        "/api/auth/login", json={"email": "bea@example.test", "password": "wrong-password"}
    )
    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": "unauthorized",
        "detail": "invalid email or password",
        "message": "invalid email or password",
    }


async def test_submit_applies_defaults_and_keeps_reference_keys(api: httpx.AsyncClient) -> None:
    headers = await login(api, "cy")
    created = await api.post(
        "/api/tasks", headers=headers, json={"docker_image": "img:1", "command": "echo hi"}
    )
    assert created.status_code == 201
    task = (await api.get(f"/api/tasks/{created.json()['task_id']}", headers=headers)).json()
    assert (task["cpu_required"], task["memory_required"]) == (1.0, 0.5)
    assert (task["storage_required"], task["gpu_required"]) == (1.0, 0)
    assert (task["k_value"], task["status"], task["command"]) == (2.0, "queued", "echo hi")
    assert task["pending_reason"] is None  # no scheduling pass has run in this test
    assert [e["to_status"] for e in task["events"]] == ["queued"]


@pytest.mark.parametrize(
    "bad",
    [
        {"command": "x"},
        {"docker_image": ""},
        {"docker_image": "has space"},
        {"docker_image": "i", "cpu_required": 0},
        {"docker_image": "i", "memory_required": -1},
        {"docker_image": "i", "gpu_required": 1.5},
        {"docker_image": "i", "k_value": 3},
        {"docker_image": "i", "command": []},
        {"docker_image": "i", "owner": "someone-else"},  # only the seed's extra keys pass
    ],
)
async def test_submit_rejects_bad_input_and_stores_nothing(
    api: httpx.AsyncClient, bad: dict[str, object]
) -> None:
    headers = await login(api, "dee")
    response = await api.post("/api/tasks", headers=headers, json=bad)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request" and body["detail"] and body["errors"]
    assert (await api.get("/api/tasks", headers=headers)).json()["tasks"] == []


async def test_oversized_body_is_refused(api: httpx.AsyncClient) -> None:
    headers = await login(api, "eve")
    body = {"docker_image": "i", "command": "x" * (2 * 1024 * 1024)}
    response = await api.post("/api/tasks", headers=headers, json=body)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


async def test_listing_is_per_user_paginated_and_admins_see_all(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    fay, gus = await login(api, "fay"), await login(api, "gus")
    for _ in range(3):
        core.clock.advance(1)
        await api.post("/api/tasks", headers=fay, json={"docker_image": "i"})
    await api.post("/api/tasks", headers=gus, json={"docker_image": "i"})
    page = (await api.get("/api/tasks?limit=2", headers=fay)).json()
    assert len(page["tasks"]) == 2 and page["limit"] == 2
    rest = (await api.get("/api/tasks?limit=2&offset=2", headers=fay)).json()["tasks"]
    assert len(rest) == 1
    assert page["tasks"][0]["created_at"] > rest[0]["created_at"]  # newest first
    assert (await api.get("/api/tasks?limit=0", headers=fay)).status_code == 422
    assert (await api.get("/api/tasks?status=bogus", headers=fay)).status_code == 422
    await core.accounts.ensure_admin("root@example.test", PASSWORD)
    admin_login = await api.post(
        "/api/auth/login", json={"email": "root@example.test", "password": PASSWORD}
    )
    admin = {"Authorization": f"Bearer {admin_login.json()['access_token']}"}
    assert len((await api.get("/api/tasks", headers=admin)).json()["tasks"]) == 4


async def test_wait_returns_current_state_on_timeout_and_rejects_bad_status(
    api: httpx.AsyncClient,
) -> None:
    headers = await login(api, "hal")
    task_id = await submit(api, headers)
    waited = await api.get(f"/api/tasks/{task_id}/wait?timeout=0.05", headers=headers)
    assert waited.status_code == 200 and waited.json()["status"] == "queued"
    queued = await api.get(f"/api/tasks/{task_id}/wait?until=queued", headers=headers)
    assert queued.json()["status"] == "queued"
    bad = await api.get(f"/api/tasks/{task_id}/wait?until=done", headers=headers)
    assert bad.status_code == 422


async def test_wait_wakes_on_change(api: httpx.AsyncClient, core: MasterCore) -> None:
    headers = await login(api, "ida")
    task_id = await submit(api, headers)
    await core.registry.register("w1", "127.0.0.1:1", Resources(4, 8, 100, 0))

    waiting = asyncio.create_task(
        api.get(f"/api/tasks/{task_id}/wait?until=running&timeout=30", headers=headers)
    )
    await core.dispatcher.schedule_once()
    await core.applier.settle()
    await core.lifecycle.started(task_id, 1, "w1")  # the worker's start report
    response = await waiting
    assert response.json()["status"] == "running"
    assert response.json()["worker_id"] == "w1"


async def test_files_and_downloads_refuse_unknown_and_traversal_paths(
    api: httpx.AsyncClient,
) -> None:
    headers = await login(api, "jo")
    task_id = await submit(api, headers)
    listing = await api.get(f"/api/files/{task_id}", headers=headers)
    assert listing.json() == {"task_id": task_id, "files": [], "total_size": 0}
    for path in ("nothing.txt", "../../secrets/jwt-secret", "%2e%2e/%2e%2e/etc/passwd"):
        response = await api.get(f"/api/files/{task_id}/download/{path}", headers=headers)
        assert response.status_code == 404, path
    assert (await api.get("/api/files/task-missing", headers=headers)).status_code == 404


async def test_unknown_routes_answer_json(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not Found", "message": "Not Found"}
    assert (await api.put("/health")).json()["error"] == "method_not_allowed"


async def test_health_is_public(api: httpx.AsyncClient) -> None:
    body = (await api.get("/health")).json()
    assert body["status"] == "healthy" and body["workers"] == 0
