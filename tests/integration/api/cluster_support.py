"""Shared steps of the cluster-route tests: an admin session, placing tasks."""

from __future__ import annotations

import httpx

from cloudai.domain.resources import Resources
from cloudai.master.core import MasterCore
from tests.integration.api.conftest import PASSWORD

ADMIN_EMAIL = "root@example.test"
BIG = Resources(cpu=4, memory_gb=8, storage_gb=100, gpu=1)


async def admin_headers(api: httpx.AsyncClient, core: MasterCore) -> dict[str, str]:
    await core.accounts.ensure_admin(ADMIN_EMAIL, PASSWORD)
    session = await api.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert session.status_code == 200, session.text
    return {"Authorization": f"Bearer {session.json()['access_token']}"}


async def anonymous(api: httpx.AsyncClient, method: str, path: str) -> httpx.Response:
    """A request with no token at all: neither header nor the session cookie that
    logging in left in the client's jar."""
    api.cookies.clear()
    return await api.request(method, path)


async def submit(api: httpx.AsyncClient, headers: dict[str, str], **fields: object) -> str:
    answer = await api.post("/api/tasks", headers=headers, json={"docker_image": "img", **fields})
    assert answer.status_code == 201, answer.text
    task_id: str = answer.json()["task_id"]
    return task_id


async def place(core: MasterCore) -> None:
    """One scheduling pass, with every assignment it made delivered."""
    await core.dispatcher.schedule_once()
    await core.applier.settle()
