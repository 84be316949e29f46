"""The REST face of admission: a refused image is a 422 naming the problem, a user at
the queued-task cap gets 429, and nothing is queued either way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cloudai.api.app import create_app
from cloudai.master.admission import AdmissionRules
from cloudai.master.core import CoreOptions, build_core
from cloudai.master.gateway import FakeWorkerGateway
from cloudai.ports import FakeClock
from cloudai.store.memory import InMemoryStore
from tests.integration.api.conftest import login


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    options = CoreOptions(tmp_path, "k" * 32, admission=AdmissionRules(max_queued_per_user=1))
    core = build_core(InMemoryStore(), FakeClock(), FakeWorkerGateway(), options)
    transport = httpx.ASGITransport(app=create_app(core.services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_refused_image_is_a_422_naming_it(api: httpx.AsyncClient) -> None:
    auth = await login(api, "mallory")
    for image in ("../../containers/x", "127.0.0.1:2375/x"):
        answer = await api.post("/api/tasks", json={"docker_image": image}, headers=auth)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "invalid_request" and image in answer.json()["detail"]
    assert (await api.get("/api/tasks", headers=auth)).json()["tasks"] == []


async def test_the_queued_cap_answers_429(capped: httpx.AsyncClient) -> None:
    auth = await login(capped, "busy")
    first = await capped.post("/api/tasks", json={"docker_image": "img"}, headers=auth)
    assert first.status_code == 201
    second = await capped.post("/api/tasks", json={"docker_image": "img"}, headers=auth)
    assert second.status_code == 429, second.text
    assert second.json()["error"] == "too_many_requests"
    assert "the most one user may have (1)" in second.json()["detail"]
