"""REST helpers shared by the in-process cluster tests."""

from __future__ import annotations

from typing import Any

import httpx


async def submit(http: httpx.AsyncClient, image: str, **fields: Any) -> str:
    answer = await http.post("/api/tasks", json={"docker_image": image, **fields})
    assert answer.status_code == 201, answer.text
    task_id: str = answer.json()["task_id"]
    return task_id


_WAIT_S = 60  # the server-side wait; the request's own timeout allows for it


async def wait(http: httpx.AsyncClient, task_id: str, until: str) -> dict[str, Any]:
    """The task once its status is one of `until` (comma-separated); fails otherwise."""
    answer = await http.get(
        f"/api/tasks/{task_id}/wait",
        params={"until": until, "timeout": _WAIT_S},
        timeout=_WAIT_S + 10,
    )
    body: dict[str, Any] = answer.json()
    assert body["status"] in until.split(","), body
    return body
