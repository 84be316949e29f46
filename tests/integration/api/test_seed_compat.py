"""The seed's React dashboard keeps working: CORS for its origin, its keys in the auth
answers (`success`, `user`), `message` in every error, its submit body and its status
words, and a readable refusal of the passwords its form allows but we do not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cloudai.api.app import create_app
from cloudai.api.schemas import statuses_for
from cloudai.domain.task import TaskStatus
from cloudai.master.core import MasterCore
from tests.integration.api.admin_support import Admin, running_admin
from tests.integration.api.cluster_support import ADMIN_EMAIL, BIG
from tests.integration.api.conftest import PASSWORD, login

DASHBOARD = "http://localhost:3000"


@pytest.fixture
async def seed(core: MasterCore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(core.services, cors_origins=[DASHBOARD]))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8080") as client:
        yield client


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization",
    }


async def test_a_listed_origin_gets_credentialed_cors_and_preflights(
    seed: httpx.AsyncClient,
) -> None:
    answer = await seed.options("/api/auth/login", headers=_preflight(DASHBOARD))
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == DASHBOARD
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert "POST" in answer.headers["access-control-allow-methods"]
    me = await seed.get("/api/auth/me", headers={"Origin": DASHBOARD})
    assert me.status_code == 401  # errors reach the page too
    assert me.headers["access-control-allow-origin"] == DASHBOARD


async def test_other_origins_and_the_default_app_get_no_cors(
    seed: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    elsewhere = await seed.options("/api/auth/login", headers=_preflight("http://evil.test"))
    assert "access-control-allow-origin" not in elsewhere.headers
    plain = await api.get("/health", headers={"Origin": DASHBOARD})
    assert "access-control-allow-origin" not in plain.headers


async def test_auth_answers_carry_success_message_and_user(seed: httpx.AsyncClient) -> None:
    body = {"name": "Ann", "email": "ann@example.test", "password": PASSWORD}
    registered = (await seed.post("/api/auth/register", json=body)).json()
    assert registered["success"] is True and registered["message"]
    assert registered["user"]["email"] == registered["email"] == "ann@example.test"
    credentials = {"email": body["email"], "password": body["password"]}
    logged = (await seed.post("/api/auth/login", json=credentials)).json()
    assert logged["success"] is True and logged["user"]["name"] == "Ann"
    assert logged["access_token"] and logged["message"]
    me = (await seed.get("/api/auth/me")).json()  # by the cookie, as the dashboard does
    assert me["success"] is True and me["user"]["email"] == "ann@example.test"
    assert (await seed.post("/api/auth/logout")).json()["success"] is True


async def test_the_dashboards_short_password_answers_422_with_a_message(
    seed: httpx.AsyncClient,
) -> None:
    body = {"name": "Bo", "email": "bo@example.test", "password": "sixchr"}
    answer = await seed.post("/api/auth/register", json=body)
    assert answer.status_code == 422
    assert answer.json()["message"] == "password must be at least 8 characters"
    assert answer.json()["errors"][0]["field"] == "body.password"


async def test_every_error_carries_message(seed: httpx.AsyncClient) -> None:
    answers = [
        await seed.get("/api/nothing-here"),  # 404 of the router
        await seed.put("/health"),  # 405
        await seed.get("/api/tasks"),  # 401
        await seed.post("/api/auth/login", json={"email": 1}),  # 422
        await seed.post("/api/auth/login", content=b"{not json"),  # 422, no JSON at all
    ]
    assert [a.status_code for a in answers] == [404, 405, 401, 422, 422]
    for answer in answers:
        body = answer.json()
        assert body["error"] and body["detail"] and body["message"], body


async def test_the_dashboards_submit_body_is_accepted_and_the_owner_is_the_caller(
    seed: httpx.AsyncClient,
) -> None:
    headers = await login(seed, "cy")
    body = {
        "docker_image": "python:3.12-slim", "command": "", "cpu_required": "1",
        "memory_required": 2, "storage_required": 5, "gpu_required": 0,
        "user_id": "user-001", "tag": "cpu-light", "k_value": 2.0,
    }  # fmt: skip
    submitted = await seed.post("/api/tasks", headers=headers, json=body)
    assert submitted.status_code == 201, submitted.text
    task = (await seed.get(f"/api/tasks/{submitted.json()['task_id']}", headers=headers)).json()
    me = (await seed.get("/api/auth/me", headers=headers)).json()
    assert task["user_id"] == me["user_id"] != "user-001"
    assert task["cpu_required"] == 1.0 and task["command"] is None


@pytest.mark.parametrize(
    ("word", "means"),
    [
        ("pending", (TaskStatus.QUEUED, TaskStatus.ASSIGNED)),
        ("running", (TaskStatus.RUNNING,)),
        ("completed", (TaskStatus.COMPLETED,)),
        ("COMPLETED", (TaskStatus.COMPLETED,)),
        ("failed", (TaskStatus.FAILED,)),
        (" cancelled ", (TaskStatus.CANCELLED,)),
        ("queued", (TaskStatus.QUEUED,)),
    ],
)
def test_the_seeds_status_words_map_to_ours(word: str, means: tuple[TaskStatus, ...]) -> None:
    assert statuses_for(word) == means


def test_unknown_status_words_are_refused() -> None:
    with pytest.raises(ValueError):
        statuses_for("not_found")


async def test_the_dashboards_auth_task_and_worker_calls_succeed_in_its_order(
    tmp_path: Path,
) -> None:
    """The calls of the seed's dashboard (reference-cloudai.md §2 and §9), with its
    bodies, its Origin and its cookie session, in the order a person's visit makes them:
    the protected route's check, register, login, the dashboard's polls, submit, cancel,
    logout; then an admin's Register Worker dialog."""
    async with running_admin(tmp_path) as admin:
        await admin.core.registry.register("w1", "10.0.0.2:50052", BIG)
        transport = httpx.ASGITransport(
            app=create_app(admin.core.services, cors_origins=[DASHBOARD])
        )
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost:8080", headers={"Origin": DASHBOARD}
        ) as ui:
            await _dashboard_visit(ui)
            await _register_worker_dialog(ui, admin)


async def _dashboard_visit(ui: httpx.AsyncClient) -> None:
    assert (await ui.get("/api/auth/me")).status_code == 401  # ProtectedRoute, logged out
    body = {"name": "Dee", "email": "dee@example.test", "password": PASSWORD}
    registered = await ui.post("/api/auth/register", json=body)
    assert registered.json()["success"] is True, registered.text
    logged = await ui.post("/api/auth/login", json={"email": body["email"], "password": PASSWORD})
    assert logged.json()["success"] is True and logged.json()["user"]["email"] == body["email"]
    me = await ui.get("/api/auth/me")  # the cookie, as axios withCredentials sends it
    assert me.json()["success"] is True and me.json()["user"]["name"] == "Dee"
    workers = (await ui.get("/api/workers")).json()["workers"]
    assert workers[0]["is_active"] is True and workers[0]["address"] == "10.0.0.2:50052"
    for key in ("total_resources", "allocated_resources", "available_resources"):
        assert set(workers[0][key]) == {"cpu", "memory", "storage", "gpu"}
    assert (await ui.get("/api/tasks")).json()["tasks"] == []
    submit = {
        "docker_image": "python:3.12-slim", "tag": "cpu-light", "k_value": 2.0,
        "cpu_required": 1, "memory_required": 1, "storage_required": 1, "gpu_required": 0,
        "user_id": "user-001",
    }  # fmt: skip
    submitted = await ui.post("/api/tasks", json=submit)
    assert submitted.status_code == 201, submitted.text
    task_id = submitted.json()["task_id"]
    [task] = (await ui.get("/api/tasks")).json()["tasks"]
    shown = ("task_id", "docker_image", "tag", "k_value", "status", "cpu_required",
             "memory_required", "gpu_required", "created_at")  # fmt: skip
    assert all(task[k] is not None for k in shown) and task["task_id"] == task_id
    cancelled = await ui.delete(f"/api/tasks/{task_id}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await ui.get("/api/tasks")).json()["tasks"][0]["status"] == "cancelled"
    assert (await ui.post("/api/auth/logout")).json()["success"] is True
    assert (await ui.get("/api/auth/me")).status_code == 401
    assert cancelled.headers["access-control-allow-origin"] == DASHBOARD


async def _register_worker_dialog(ui: httpx.AsyncClient, admin: Admin) -> None:
    await admin.core.accounts.ensure_admin(ADMIN_EMAIL, PASSWORD)
    login_body = {"email": ADMIN_EMAIL, "password": PASSWORD}
    assert (await ui.post("/api/auth/login", json=login_body)).json()["success"] is True
    dialog = {"worker_id": "w7", "worker_ip": "10.0.0.7:50052"}
    registered = await ui.post("/api/workers", json=dialog)
    assert registered.status_code == 201, registered.text
    assert registered.json()["success"] is True and registered.json()["worker"]["worker_id"] == "w7"
    [(address, invite)] = admin.inviter.invited
    assert (address, invite.worker_id) == ("10.0.0.7:50052", "w7")
    assert (await ui.get("/api/workers")).status_code == 200  # the dialog's refresh
