"""The scheduling surface of the REST API: new submit fields, warnings, queue position,
SLA hit rates, and the admin's scheduler switch."""

from __future__ import annotations

import httpx

from cloudai.domain.resources import Resources
from cloudai.domain.task import AttemptReport, TaskStatus
from cloudai.master.core import MasterCore
from tests.integration.api.conftest import PASSWORD, login


async def admin_headers(api: httpx.AsyncClient, core: MasterCore) -> dict[str, str]:
    await core.accounts.ensure_admin("root@example.test", PASSWORD)
    session = await api.post(
        "/api/auth/login", json={"email": "root@example.test", "password": PASSWORD}
    )
    return {"Authorization": f"Bearer {session.json()['access_token']}"}


async def test_submit_takes_scheduling_fields_and_warns(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    headers = await login(api, "una")
    await core.registry.register("w1", "127.0.0.1:1", Resources(2, 4, 10, 0))
    body = {
        "docker_image": "img", "tag": "memory-light", "priority": -3, "max_retries": 1,
        "timeout_seconds": 60, "env": {"MODE": "fast"}, "target_worker_id": "w1",
    }  # fmt: skip
    answer = await api.post("/api/tasks", headers=headers, json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["task_type"] == "cpu-light"
    assert "treated as 'cpu-light'" in answer.json()["warning"]
    task = (await api.get(f"/api/tasks/{answer.json()['task_id']}", headers=headers)).json()
    assert (task["priority"], task["max_retries"], task["timeout_seconds"]) == (-3, 1, 60)
    assert task["env"] == {"MODE": "fast"} and task["target_worker_id"] == "w1"
    assert task["tag"] == "memory-light" and task["deadline"] is not None

    huge = {"docker_image": "img", "cpu_required": 64, "tag": "cpu-heavy"}
    answer = await api.post("/api/tasks", headers=headers, json=huge)
    assert "no registered worker could ever fit" in answer.json()["warning"]
    await core.dispatcher.schedule_once()
    waiting = (await api.get(f"/api/tasks/{answer.json()['task_id']}", headers=headers)).json()
    assert waiting["queue_position"] == 1 and "could ever fit" in waiting["pending_reason"]


async def test_submit_warns_of_a_target_that_is_absent_or_too_small(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    headers = await login(api, "tia")
    await core.registry.register("small", "127.0.0.1:1", Resources(2, 4, 10, 0))
    await core.registry.register("large", "127.0.0.1:2", Resources(32, 64, 10, 0))

    async def warning(**body: object) -> str | None:
        answer = await api.post("/api/tasks", headers=headers, json={"docker_image": "img",
                                "tag": "cpu-light", **body})  # fmt: skip
        assert answer.status_code == 201, answer.text
        warned: str | None = answer.json()["warning"]
        return warned

    assert await warning(cpu_required=8) is None  # the large worker fits it
    assert "could ever fit" in str(await warning(cpu_required=8, target_worker_id="small"))
    assert await warning(cpu_required=1, target_worker_id="small") is None
    assert "w9 is not registered" in str(await warning(target_worker_id="w9"))
    await core.registry.remove("large")
    assert "could ever fit" in str(await warning(cpu_required=8))  # the shape left with it


async def test_bad_scheduling_fields_are_refused(api: httpx.AsyncClient) -> None:
    headers = await login(api, "vic")
    for bad in ({"priority": 5}, {"env": {"1BAD": "x"}}, {"timeout_seconds": 0}):
        answer = await api.post("/api/tasks", headers=headers, json={"docker_image": "i", **bad})
        assert answer.status_code in (403, 422), (bad, answer.text)
    assert (await api.get("/api/tasks", headers=headers)).json()["tasks"] == []


async def test_sla_rates_and_the_admin_scheduler_switch(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    headers = await login(api, "wes")
    await core.registry.register("w1", "127.0.0.1:1", Resources(2, 4, 10, 0))
    task_id = (await api.post("/api/tasks", headers=headers, json={"docker_image": "i"})).json()[
        "task_id"
    ]
    await core.dispatcher.schedule_once()
    await core.applier.settle()
    done = AttemptReport(task_id, 1, "w1", TaskStatus.COMPLETED, 0, "exit code 0", False, 0)
    assert await core.lifecycle.finished(done) is not None
    rates = (await api.get("/api/sla", headers=headers)).json()
    assert rates["by_scheduler"]["round_robin"] == {"met": 1, "total": 1, "rate": 1.0}
    assert rates["by_type"]["cpu-light"]["total"] == 1

    assert (await api.get("/api/admin/scheduler", headers=headers)).status_code == 403
    admin = await admin_headers(api, core)
    current = (await api.get("/api/admin/scheduler", headers=admin)).json()
    assert current["scheduler"] == "round_robin" and "rts" in current["available"]
    switched = await api.put("/api/admin/scheduler", headers=admin, json={"scheduler": "spread"})
    assert switched.json()["scheduler"] == "spread" and core.dispatcher.scheduler == "spread"
    unknown = await api.put("/api/admin/scheduler", headers=admin, json={"scheduler": "x"})
    assert unknown.status_code == 422 and core.dispatcher.scheduler == "spread"
