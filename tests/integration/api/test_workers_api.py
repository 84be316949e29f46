"""The worker routes: resources with what holds them, who may see which task ids,
heartbeat samples, and the admin's drain / cordon / open."""

from __future__ import annotations

import httpx
import pytest

from cloudai.domain.resources import Resources
from cloudai.domain.workers import Eligibility, Usage
from cloudai.master.core import MasterCore
from cloudai.master.telemetry import DEFAULT_SAMPLES
from cloudai.ports import FakeClock
from tests.integration.api.cluster_support import BIG, admin_headers, anonymous, place, submit
from tests.integration.api.conftest import login


async def _two_users_on_w1(
    api: httpx.AsyncClient, core: MasterCore
) -> tuple[dict[str, str], dict[str, str], str, str]:
    """Users ann and bob each hold one task on w1 (w2 stays empty)."""
    await core.registry.register("w1", "10.0.0.1:50052", BIG)
    await core.registry.register("w2", "10.0.0.2:50052", Resources(2, 4, 10, 0))
    ann, bob = await login(api, "ann"), await login(api, "bob")
    ann_task = await submit(api, ann, target_worker_id="w1", cpu_required=1.5)
    bob_task = await submit(api, bob, target_worker_id="w1", memory_required=2)
    await place(core)
    return ann, bob, ann_task, bob_task


async def test_list_shows_resources_and_only_your_own_task_ids(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    ann, bob, ann_task, bob_task = await _two_users_on_w1(api, core)
    await core.registry.heartbeat("w1", Usage(cpu=50, memory=25, storage=10, gpu=0))
    answer = await api.get("/api/workers", headers=ann)
    assert answer.status_code == 200, answer.text
    workers = {w["worker_id"]: w for w in answer.json()["workers"]}
    assert sorted(workers) == ["w1", "w2"]
    w1 = workers["w1"]
    assert (w1["status"], w1["eligibility"], w1["address"]) == ("active", "open", "10.0.0.1:50052")
    assert w1["total_resources"] == {"cpu": 4.0, "memory": 8.0, "storage": 100.0, "gpu": 1}
    assert w1["allocated_resources"] == {"cpu": 2.5, "memory": 2.5, "storage": 2.0, "gpu": 0}
    assert w1["available_resources"] == {"cpu": 1.5, "memory": 5.5, "storage": 98.0, "gpu": 1}
    assert w1["usage"] == {"cpu": 50.0, "memory": 25.0, "storage": 10.0, "gpu": 0.0}
    assert w1["running_tasks_count"] == 2 and w1["task_ids"] == [ann_task]
    assert workers["w2"]["running_tasks_count"] == 0 and workers["w2"]["task_ids"] == []

    bobs = {
        w["worker_id"]: w for w in (await api.get("/api/workers", headers=bob)).json()["workers"]
    }
    assert bobs["w1"]["task_ids"] == [bob_task]
    admin = await admin_headers(api, core)
    everyone = (await api.get("/api/workers", headers=admin)).json()["workers"]
    assert sorted(everyone[0]["task_ids"]) == sorted([ann_task, bob_task])
    assert (await anonymous(api, "GET", "/api/workers")).status_code == 401


async def test_detail_and_tasks_hide_other_users_tasks(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    ann, _, ann_task, bob_task = await _two_users_on_w1(api, core)
    detail = await api.get("/api/workers/w1", headers=ann)
    assert detail.status_code == 200, detail.text
    assert detail.json()["running_tasks_count"] == 2
    assert [t["task_id"] for t in detail.json()["tasks"]] == [ann_task]
    held = detail.json()["tasks"][0]
    assert (held["status"], held["attempt"], held["request"]["cpu"]) == ("assigned", 1, 1.5)
    assert bob_task not in detail.text

    tasks = await api.get("/api/workers/w1/tasks", headers=ann)
    assert tasks.status_code == 200
    assert tasks.json()["count"] == 1 and tasks.json()["tasks"][0]["task_id"] == ann_task
    assert bob_task not in tasks.text
    admin = await admin_headers(api, core)
    assert (await api.get("/api/workers/w1/tasks", headers=admin)).json()["count"] == 2

    for path in ("/api/workers/nope", "/api/workers/nope/tasks", "/api/workers/nope/metrics"):
        missing = await api.get(path, headers=ann)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found", path
        assert (await anonymous(api, "GET", path.replace("nope", "w1"))).status_code == 401


async def test_metrics_keep_a_bounded_ring_newest_last(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    headers = await login(api, "cal")
    await core.registry.register("w1", "10.0.0.1:50052", BIG)
    assert isinstance(core.clock, FakeClock)
    beats = DEFAULT_SAMPLES + 5
    for i in range(beats):
        core.clock.advance(5)
        await core.registry.heartbeat("w1", Usage(cpu=float(i), memory=1, storage=2, gpu=3))
    answer = await api.get("/api/workers/w1/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    samples = answer.json()["samples"]
    assert len(samples) == DEFAULT_SAMPLES == answer.json()["max_samples"]
    assert [s["cpu"] for s in samples] == [float(i) for i in range(5, beats)]
    assert samples[-1] == {
        "at": core.clock.now().isoformat().replace("+00:00", "Z"),
        "cpu": float(beats - 1), "memory": 1.0, "storage": 2.0, "gpu": 3.0,
    }  # fmt: skip
    last = await api.get("/api/workers/w1/metrics?limit=2", headers=headers)
    assert [s["cpu"] for s in last.json()["samples"]] == [beats - 2.0, beats - 1.0]


@pytest.mark.parametrize("query", ["limit=0", f"limit={DEFAULT_SAMPLES + 1}", "limit=many"])
async def test_metrics_reject_a_bad_limit(
    api: httpx.AsyncClient, core: MasterCore, query: str
) -> None:
    headers = await login(api, "dee")
    await core.registry.register("w1", "10.0.0.1:50052", BIG)
    answer = await api.get(f"/api/workers/w1/metrics?{query}", headers=headers)
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("action", "eligibility"),
    [("drain", Eligibility.DRAINING), ("cordon", Eligibility.CORDONED), ("open", Eligibility.OPEN)],
)
async def test_admins_drain_cordon_and_open_workers(
    api: httpx.AsyncClient, core: MasterCore, action: str, eligibility: Eligibility
) -> None:
    await core.registry.register("w1", "10.0.0.1:50052", BIG)
    if eligibility is Eligibility.OPEN:
        await core.registry.set_eligibility("w1", Eligibility.CORDONED)
    path = f"/api/admin/workers/w1/{action}"
    user = await login(api, "eve")
    refused = await api.post(path, headers=user)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert (await anonymous(api, "POST", path)).status_code == 401
    admin = await admin_headers(api, core)
    answer = await api.post(path, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["eligibility"] == eligibility.value
    worker = core.registry.get("w1")
    assert worker is not None and worker.eligibility is eligibility
    missing = await api.post(f"/api/admin/workers/nope/{action}", headers=admin)
    assert missing.status_code == 404


async def test_a_drained_worker_takes_no_new_task(api: httpx.AsyncClient, core: MasterCore) -> None:
    await core.registry.register("w1", "10.0.0.1:50052", BIG)
    admin = await admin_headers(api, core)
    assert (await api.post("/api/admin/workers/w1/drain", headers=admin)).status_code == 200
    task_id = await submit(api, admin)
    await place(core)
    assert (await api.get(f"/api/tasks/{task_id}", headers=admin)).json()["status"] == "queued"
    assert (await api.post("/api/admin/workers/w1/open", headers=admin)).status_code == 200
    await place(core)
    held = (await api.get("/api/workers/w1/tasks", headers=admin)).json()["tasks"]
    assert [t["task_id"] for t in held] == [task_id]


async def test_the_seeds_legacy_paths_answer_in_its_shapes(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    ann, bob, ann_task, bob_task = await _two_users_on_w1(api, core)
    await core.registry.heartbeat("w1", Usage(cpu=50, memory=25, storage=10, gpu=0))
    telemetry = (await api.get("/telemetry", headers=ann)).json()
    assert sorted(telemetry) == ["w1", "w2"]
    w1 = telemetry["w1"]
    assert (w1["worker_id"], w1["cpu_usage"], w1["memory_usage"], w1["is_active"]) == (
        "w1", 50, 25, True,
    )  # fmt: skip
    assert [t["task_id"] for t in w1["running_tasks"]] == [ann_task]  # not bob's
    assert isinstance(w1["last_update"], float)
    one = (await api.get("/telemetry/w1", headers=bob)).json()
    assert [t["task_id"] for t in one["running_tasks"]] == [bob_task]
    assert (await api.get("/telemetry/nope", headers=bob)).status_code == 404
    workers = (await api.get("/workers", headers=ann)).json()
    assert workers["w1"] == {
        "worker_id": "w1", "is_active": True, "running_tasks_count": 2,
        "last_update": w1["last_update"],
    }  # fmt: skip
    for path in ("/telemetry", "/telemetry/w1", "/workers"):
        assert (await anonymous(api, "GET", path)).status_code == 401
