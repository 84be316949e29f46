"""A user's stored outputs across tasks (`GET /api/files`) and deleting a finished
task's outputs (`DELETE /api/files/{task_id}`); another user's answer 404."""

from __future__ import annotations

import httpx

from cloudai.domain.task import OutputFile
from cloudai.master.core import MasterCore
from cloudai.ports import FakeClock
from tests.integration.api.conftest import PASSWORD, login


async def finished_with_files(
    api: httpx.AsyncClient, core: MasterCore, auth: dict[str, str], *names: str
) -> str:
    assert isinstance(core.clock, FakeClock)
    core.clock.advance(1)
    task_id = (await api.post("/api/tasks", json={"docker_image": "img"}, headers=auth)).json()[
        "task_id"
    ]
    await api.delete(f"/api/tasks/{task_id}", headers=auth)  # final (cancelled)
    task = await core.store.get_task(task_id)
    assert task is not None
    for name in names:
        path = core.services.files.output_path(task.user_id, task_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"12345")
    await core.store.replace_files(task_id, [OutputFile(n, 5, "0" * 64) for n in names])
    return task_id


async def test_listing_and_deleting_stored_outputs(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    ada, bob = await login(api, "ada"), await login(api, "bob")
    older = await finished_with_files(api, core, ada, "a.txt", "b/c.txt")
    await finished_with_files(api, core, ada)  # no files: not listed
    newer = await finished_with_files(api, core, ada, "z.bin")
    theirs = await finished_with_files(api, core, bob, "x.txt")
    listed = (await api.get("/api/files", headers=ada)).json()["tasks"]
    assert [(t["task_id"], t["files"], t["total_size"]) for t in listed] == [
        (newer, 1, 5), (older, 2, 10),
    ]  # fmt: skip
    page = (await api.get("/api/files", params={"limit": 1}, headers=ada)).json()
    rest = await api.get("/api/files", params={"cursor": page["next_cursor"]}, headers=ada)
    assert [t["task_id"] for t in rest.json()["tasks"]] == [older]

    assert (await api.delete(f"/api/files/{theirs}", headers=ada)).status_code == 404
    deleted = (await api.delete(f"/api/files/{older}", headers=ada)).json()
    assert (deleted["files"], deleted["total_size"]) == (2, 10)
    assert (await api.get(f"/api/files/{older}", headers=ada)).json()["files"] == []
    task = await core.store.get_task(older)
    assert task is not None
    assert not core.services.files.task_dir(task.user_id, older).exists()
    assert (await api.get(f"/api/files/{theirs}", headers=bob)).json()["files"]

    running = (await api.post("/api/tasks", json={"docker_image": "img"}, headers=ada)).json()
    assert (await api.delete(f"/api/files/{running['task_id']}", headers=ada)).status_code == 409

    await core.accounts.ensure_admin("root@example.test", PASSWORD)
    session = await api.post(
        "/api/auth/login", json={"email": "root@example.test", "password": PASSWORD}
    )
    admin = {"Authorization": f"Bearer {session.json()['access_token']}"}
    bob_id = (await api.get("/api/auth/me", headers=bob)).json()["user_id"]
    named = (await api.get("/api/files", params={"user_id": bob_id}, headers=admin)).json()
    assert [t["task_id"] for t in named["tasks"]] == [theirs]
    assert (await api.get("/api/files", params={"user_id": bob_id}, headers=ada)).status_code == 403
