"""Admins pre-register workers (MasterRegister with a one-time token), remove them
(drain, then remove), delete finished tasks with their data, fix resources and read
the master's internal state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloudai.domain.task import TaskStatus
from cloudai.domain.workers import Eligibility, Usage
from cloudai.master.registration import hash_token
from tests.integration.api.admin_support import MASTER_ADDRESS, Admin, running_admin
from tests.integration.api.cluster_support import BIG, admin_headers, anonymous, place, submit
from tests.integration.api.conftest import login

ADMIN_ROUTES = [
    ("POST", "/api/workers"),
    ("DELETE", "/api/workers/w1"),
    ("POST", "/api/admin/fix-resources"),
    ("GET", "/api/admin/internal-state"),
]


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[Admin]:
    async with running_admin(tmp_path) as running:
        yield running


async def test_every_admin_route_is_401_anonymous_and_403_for_a_user(admin: Admin) -> None:
    await admin.core.registry.register("w1", "10.0.0.2:50052", BIG)
    ann = await login(admin.api, "ann")
    for method, path in ADMIN_ROUTES:
        body = {"address": "10.0.0.9:50052"} if method == "POST" else None
        refused = await admin.api.request(method, path, headers=ann, json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert (await anonymous(admin.api, method, path)).status_code == 401, path
    assert admin.inviter.invited == [] and admin.core.registry.get("w1") is not None


async def test_preregistration_sends_master_register_with_a_one_time_token(admin: Admin) -> None:
    root = await admin_headers(admin.api, admin.core)
    answer = await admin.api.post(
        "/api/workers", headers=root, json={"address": "10.0.0.9:50052", "worker_id": "w9"}
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["worker_id"], body["address"], body["state"]) == (
        "w9",
        "10.0.0.9:50052",
        "pending",
    )
    [(address, invite)] = admin.inviter.invited
    assert (address, invite.master_address, invite.worker_id) == (
        "10.0.0.9:50052",
        MASTER_ADDRESS,
        "w9",
    )
    [stored] = await admin.core.store.list_registrations()
    assert stored.token_hash == hash_token(invite.token) and invite.token not in repr(stored)
    registrations = admin.core.services.admin.registrations
    assert await registrations.redeem(invite.token, "w-other") is None  # named for w9
    assert await registrations.redeem(invite.token, "w9") is not None
    assert await registrations.redeem(invite.token, "w9") is None  # once


async def test_the_seed_dashboards_register_body_and_bad_input(admin: Admin) -> None:
    root = await admin_headers(admin.api, admin.core)
    seed = await admin.api.post(
        "/api/workers", headers=root, json={"worker_id": "w5", "worker_ip": "10.0.0.5:50052"}
    )
    assert seed.status_code == 201, seed.text
    assert seed.json()["success"] is True and seed.json()["worker"]["worker_ip"] == "10.0.0.5:50052"
    for body in (
        {},
        {"address": "no-port"},
        {"address": "h:99999"},
        {"address": "h:1", "worker_id": "../x"},
    ):
        bad = await admin.api.post("/api/workers", headers=root, json=body)
        assert bad.status_code == 422, (body, bad.text)


async def test_an_unreachable_or_unwilling_worker_is_reported(admin: Admin) -> None:
    root = await admin_headers(admin.api, admin.core)
    admin.inviter.unreachable.add("10.0.0.7:1")
    admin.inviter.refusing.add("10.0.0.8:1")
    down = await admin.api.post("/api/workers", headers=root, json={"address": "10.0.0.7:1"})
    assert down.status_code == 503 and "refused" in down.json()["detail"]
    busy = await admin.api.post("/api/workers", headers=root, json={"address": "10.0.0.8:1"})
    assert busy.status_code == 409 and "not waiting" in busy.json()["detail"]


async def test_an_idle_worker_is_removed_at_once(admin: Admin) -> None:
    root = await admin_headers(admin.api, admin.core)
    await admin.core.registry.register("w1", "10.0.0.2:50052", BIG)
    removed = await admin.api.delete("/api/workers/w1", headers=root)
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"worker_id": "w1", "state": "removed"}
    assert admin.core.registry.get("w1") is None and await admin.core.store.get_worker("w1") is None
    assert (await admin.api.delete("/api/workers/w1", headers=root)).status_code == 404


async def test_a_busy_worker_drains_then_goes_once_its_task_ends(admin: Admin) -> None:
    api, core = admin.api, admin.core
    root = await admin_headers(api, core)
    await core.registry.register("w1", "10.0.0.2:50052", BIG)
    ann = await login(api, "ann")
    task_id = await submit(api, ann, target_worker_id="w1")
    await place(core)
    draining = await api.delete("/api/workers/w1", headers=root)
    assert draining.status_code == 202, draining.text
    assert draining.json() == {"worker_id": "w1", "state": "draining"}
    worker = core.registry.get("w1")
    assert worker is not None and worker.eligibility is Eligibility.DRAINING
    removal = core.services.admin.removal
    assert await removal.sweep() == [] and removal.removing == ["w1"]
    assert (await api.delete(f"/api/tasks/{task_id}", headers=ann)).status_code == 200  # cancel
    assert await removal.sweep() == ["w1"]
    assert core.registry.get("w1") is None and removal.removing == []


async def test_purge_deletes_a_finished_task_with_its_logs_and_outputs(admin: Admin) -> None:
    api, core = admin.api, admin.core
    ann, bob = await login(api, "ann"), await login(api, "bob")
    task_id = await submit(api, ann)
    early = await api.delete(f"/api/tasks/{task_id}", headers=ann, params={"purge": "true"})
    assert early.status_code == 409 and "cancel it first" in early.json()["detail"]
    assert (await api.delete(f"/api/tasks/{task_id}", headers=ann)).json()["status"] == "cancelled"
    task = await core.store.get_task(task_id)
    assert task is not None
    outputs = core.services.files.task_dir(task.user_id, task_id)
    outputs.mkdir(parents=True)
    (outputs / "out.txt").write_text("x")
    log = core.services.files.log_path(task_id, 1)
    log.parent.mkdir(parents=True)
    log.write_text("a log")
    other = await api.delete(f"/api/tasks/{task_id}", headers=bob, params={"purge": "true"})
    assert other.status_code == 404
    purged = await api.delete(f"/api/tasks/{task_id}", headers=ann, params={"purge": "true"})
    assert purged.status_code == 200, purged.text
    assert purged.json() == {"task_id": task_id, "deleted": True}
    assert (
        await core.store.get_task(task_id) is None and await core.store.list_events(task_id) == []
    )
    assert not outputs.exists() and not log.parent.exists()
    assert (await api.get(f"/api/tasks/{task_id}", headers=ann)).status_code == 404
    again = await api.delete(f"/api/tasks/{task_id}", headers=ann, params={"purge": "true"})
    assert again.status_code == 404
    assert (await anonymous(api, "DELETE", f"/api/tasks/{task_id}?purge=true")).status_code == 401


async def test_an_admin_may_purge_anyones_finished_task(admin: Admin) -> None:
    api = admin.api
    root, ann = await admin_headers(api, admin.core), await login(api, "ann")
    task_id = await submit(api, ann)
    await api.delete(f"/api/tasks/{task_id}", headers=ann)
    purged = await api.delete(f"/api/tasks/{task_id}", headers=root, params={"purge": True})
    assert purged.status_code == 200 and await admin.core.store.get_task(task_id) is None
    bad = await api.delete(f"/api/tasks/{task_id}", headers=root, params={"purge": "sometimes"})
    assert bad.status_code == 422


async def test_fix_resources_ends_what_the_worker_lost_and_stops_what_it_should_not_run(
    admin: Admin,
) -> None:
    api, core = admin.api, admin.core
    root = await admin_headers(api, core)
    await core.registry.register("w1", "10.0.0.2:50052", BIG)
    await core.registry.register("w2", "10.0.0.3:50052", BIG)
    ann = await login(api, "ann")
    lost = await submit(api, ann, target_worker_id="w1", cpu_required=1.5)
    await place(core)
    admin.clock.advance(20)  # past the reconcile grace (15 s): the assignment has settled
    for worker_id in ("w1", "w2"):
        await core.registry.heartbeat(worker_id, Usage())  # both still active
    audit = core.services.admin.audit
    audit.reported("w1", [("task-stray", 3, True)])  # w1 no longer runs `lost`
    audit.reported("w2", [])
    answer = await api.post("/api/admin/fix-resources", headers=root)
    assert answer.status_code == 200, answer.text
    by_id = {w["worker_id"]: w for w in answer.json()["workers"]}
    w1 = by_id["w1"]
    assert w1["drift"]["missing_on_worker"] == [lost]
    assert w1["drift"]["unknown_to_master"] == ["task-stray"]
    assert w1["drift"]["allocated"]["cpu"] == 1.5 and w1["fixed"] is True
    assert by_id["w2"] == {**by_id["w2"], "fixed": False}
    assert by_id["w2"]["drift"]["missing_on_worker"] == []
    assert ("w1", "task-stray", 3) in admin.gateway.cancelled
    task = await core.store.get_task(lost)
    assert task is not None and task.status is TaskStatus.QUEUED  # requeued, as a lost attempt
    attempts = await core.store.list_attempts(lost)
    assert attempts[-1].status.value == "lost"


async def test_fix_resources_leaves_attempts_that_may_be_in_flight(admin: Admin) -> None:
    api, core = admin.api, admin.core
    root = await admin_headers(api, core)
    await core.registry.register("w1", "10.0.0.2:50052", BIG)
    ann = await login(api, "ann")
    fresh = await submit(api, ann, target_worker_id="w1")
    await place(core)
    core.services.admin.audit.reported("w1", [])  # taken right as the task was assigned
    answer = (await api.post("/api/admin/fix-resources", headers=root)).json()
    [w1] = answer["workers"]
    assert w1["drift"]["in_flight"] == [fresh] and w1["drift"]["missing_on_worker"] == []
    assert w1["fixed"] is False
    task = await core.store.get_task(fresh)
    assert task is not None and task.status is TaskStatus.ASSIGNED


async def test_internal_state_dumps_registry_queue_scheduler_and_bus(admin: Admin) -> None:
    api, core = admin.api, admin.core
    root = await admin_headers(api, core)
    await core.registry.register("w1", "10.0.0.2:50052", BIG)
    ann = await login(api, "ann")
    queued = await submit(api, ann, cpu_required=64)  # fits nowhere: stays queued
    await core.dispatcher.schedule_once()
    answer = await api.get("/api/admin/internal-state", headers=root)
    assert answer.status_code == 200, answer.text
    state = answer.json()
    assert [w["worker_id"] for w in state["registry"]] == ["w1"]
    assert [e["task_id"] for e in state["queue"]["entries"]] == [queued]
    assert state["queue"]["entries"][0]["reason"]
    assert state["scheduler"]["in_use"] == core.dispatcher.scheduler
    assert state["bus"]["subscribers"] == core.bus.subscribers
    assert state["removing"] == [] and state["retention"]["keep_s"] is None
