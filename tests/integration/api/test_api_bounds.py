"""Abuse of query parameters and body sizes: every bad value answers a JSON 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cloudai.domain.resources import Resources
from cloudai.domain.task import AttemptReport, TaskStatus
from cloudai.master.core import MasterCore
from cloudai.master.gateway import FakeWorkerGateway
from tests.integration.api.conftest import login

HUGE = ("9223372036854775808", "99999999999999999999999", str(2**62 + 1), "-1")


async def submit(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await api.post("/api/tasks", headers=headers, json={"docker_image": "i"})
    assert response.status_code == 201, response.text
    task_id: str = response.json()["task_id"]
    return task_id


async def running(api: httpx.AsyncClient, core: MasterCore, headers: dict[str, str]) -> str:
    task_id = await submit(api, headers)
    await core.registry.register("w1", "127.0.0.1:1", Resources(4, 8, 100, 0))
    await core.dispatcher.schedule_once()
    await core.applier.settle()
    await core.lifecycle.started(task_id, 1, "w1")
    return task_id


async def finished(api: httpx.AsyncClient, core: MasterCore, headers: dict[str, str]) -> str:
    task_id = await running(api, core, headers)
    log = core.services.files.log_path(task_id, 1)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"hello\n")
    report = AttemptReport(task_id, 1, "w1", TaskStatus.COMPLETED, 0, "", False, 6)
    await core.lifecycle.finished(report)
    return task_id


def assert_json_422(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "invalid_request" and body["detail"] and body["errors"]


@pytest.mark.parametrize("value", HUGE)
async def test_list_rejects_out_of_range_offset(api: httpx.AsyncClient, value: str) -> None:
    headers = await login(api, "ann")
    assert_json_422(await api.get(f"/api/tasks?offset={value}", headers=headers))


@pytest.mark.parametrize("value", ["0", "501", "-5", "99999999999999999999"])
async def test_list_rejects_out_of_range_limit(api: httpx.AsyncClient, value: str) -> None:
    headers = await login(api, "bob")
    assert_json_422(await api.get(f"/api/tasks?limit={value}", headers=headers))


async def test_list_accepts_the_largest_bounds(api: httpx.AsyncClient) -> None:
    headers = await login(api, "cy")
    await submit(api, headers)
    page = await api.get(f"/api/tasks?limit=500&offset={2**62}", headers=headers)
    assert page.status_code == 200, page.text
    assert page.json()["tasks"] == []


@pytest.mark.parametrize("value", HUGE)
async def test_logs_of_finished_task_reject_out_of_range_offset(
    api: httpx.AsyncClient, core: MasterCore, value: str
) -> None:
    headers = await login(api, "dee")
    task_id = await finished(api, core, headers)
    assert_json_422(await api.get(f"/api/tasks/{task_id}/logs?offset={value}", headers=headers))


@pytest.mark.parametrize("value", HUGE)
async def test_logs_of_running_task_reject_out_of_range_offset(
    api: httpx.AsyncClient, core: MasterCore, value: str
) -> None:
    headers = await login(api, "eve")
    task_id = await running(api, core, headers)
    assert_json_422(await api.get(f"/api/tasks/{task_id}/logs?offset={value}", headers=headers))


@pytest.mark.parametrize("offset", [6, 7, 4096, 2**40, 2**62])
async def test_logs_past_the_end_are_empty(
    api: httpx.AsyncClient, core: MasterCore, offset: int
) -> None:
    headers = await login(api, "fay")
    task_id = await finished(api, core, headers)
    response = await api.get(f"/api/tasks/{task_id}/logs?offset={offset}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["logs"] == "" and body["offset"] == offset and body["next_offset"] == offset
    assert body["complete"] is True


@pytest.mark.parametrize("offset", [2, 6, 4096, 2**62])
async def test_live_logs_past_the_end_are_empty(
    api: httpx.AsyncClient, core: MasterCore, offset: int
) -> None:
    headers = await login(api, "gus")
    task_id = await running(api, core, headers)
    gateway = core.gateway
    assert isinstance(gateway, FakeWorkerGateway)
    gateway.logs[(task_id, 1)] = b"ab"
    response = await api.get(f"/api/tasks/{task_id}/logs?offset={offset}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["logs"] == "" and body["next_offset"] == offset and body["complete"] is False


@pytest.mark.parametrize("value", ["0", str(4 * 1024 * 1024 + 1), "99999999999999999999"])
async def test_logs_reject_out_of_range_limit(
    api: httpx.AsyncClient, core: MasterCore, value: str
) -> None:
    headers = await login(api, "hal")
    task_id = await finished(api, core, headers)
    assert_json_422(await api.get(f"/api/tasks/{task_id}/logs?limit={value}", headers=headers))


@pytest.mark.parametrize("value", ["0", "-1", "301", "1e309", "nan", "inf"])
async def test_wait_rejects_out_of_range_timeout(api: httpx.AsyncClient, value: str) -> None:
    headers = await login(api, "ida")
    task_id = await submit(api, headers)
    response = await api.get(f"/api/tasks/{task_id}/wait?timeout={value}", headers=headers)
    assert_json_422(response)


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


async def test_chunked_oversized_body_answers_413(api: httpx.AsyncClient) -> None:
    headers = await login(api, "jo")
    # A generator body has no length: httpx sends it chunked, with no Content-Length.
    request = api.build_request(
        "POST",
        "/api/tasks",
        headers={**headers, "content-type": "application/json"},
        content=chunks(2 * 1024 * 1024),
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = await api.send(request)
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "payload_too_large"


async def test_declared_oversized_body_answers_413(api: httpx.AsyncClient) -> None:
    headers = await login(api, "kim")
    response = await api.post(
        "/api/tasks",
        headers={**headers, "content-type": "application/json"},
        content=b" " * (1024 * 1024 + 1),
    )
    assert response.status_code == 413, response.text
    assert response.json() == {
        "error": "payload_too_large",
        "detail": "request body exceeds 1048576 bytes",
        "message": "request body exceeds 1048576 bytes",
    }


async def test_oversized_body_on_a_public_route_answers_413(api: httpx.AsyncClient) -> None:
    request = api.build_request(
        "POST",
        "/api/auth/register",
        headers={"content-type": "application/json"},
        content=chunks(1024 * 1024 + 1),
    )
    response = await api.send(request)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "payload_too_large"


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_chunked_body_under_the_limit_is_accepted(api: httpx.AsyncClient) -> None:
    headers = await login(api, "lee")
    body = b'{"docker_image": "i"}'
    request = api.build_request(
        "POST",
        "/api/tasks",
        headers={**headers, "content-type": "application/json"},
        content=pieces(body[:5], body[5:]),
    )
    response = await api.send(request)
    assert response.status_code == 201, response.text
