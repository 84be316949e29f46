"""The queue and stats routes: queue order with positions, visibility, cursor paging,
and the cluster-wide counts."""

from __future__ import annotations

import httpx
import pytest

from cloudai.domain.resources import Resources
from cloudai.domain.task import AttemptReport, TaskStatus
from cloudai.master.core import MasterCore
from cloudai.ports import FakeClock
from tests.integration.api.cluster_support import BIG, admin_headers, anonymous, place, submit
from tests.integration.api.conftest import login


async def _queue(api: httpx.AsyncClient, headers: dict[str, str], query: str = "") -> list[str]:
    answer = await api.get(f"/api/queue?{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    return [t["task_id"] for t in answer.json()["tasks"]]


async def test_queue_is_in_placement_order_and_users_see_their_own(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    ann, bob = await login(api, "ann"), await login(api, "bob")
    admin = await admin_headers(api, core)
    assert isinstance(core.clock, FakeClock)
    heavy: dict[str, object] = {"cpu_required": 2, "tag": "cpu-heavy"}
    ids = []
    for headers, fields in ((ann, {}), (ann, {}), (bob, heavy), (admin, {"priority": 10})):
        ids.append(await submit(api, headers, **fields))
        core.clock.advance(1)  # distinct submit times: a defined order
    a1, a2, b1, urgent = ids
    await core.dispatcher.schedule_once()  # no worker: everything waits, ranked

    everything = (await api.get("/api/queue", headers=admin)).json()
    assert everything["total"] == 4 and everything["next_cursor"] is None
    rows = everything["tasks"]
    assert [r["position"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["task_id"] == urgent and rows[0]["priority"] == 10  # priority goes first
    assert {r["task_id"] for r in rows} == {a1, a2, b1, urgent}
    bobs = next(r for r in rows if r["task_id"] == b1)
    assert bobs["task_type"] == "cpu-heavy" and bobs["request"]["cpu"] == 2.0
    assert bobs["pending_reason"] == core.dispatcher.pending_reason(b1) is not None

    mine = (await api.get("/api/queue", headers=ann)).json()
    assert [r["task_id"] for r in mine["tasks"]] == [a1, a2] and mine["total"] == 2
    ranks = {r["task_id"]: r["position"] for r in rows}
    assert [r["position"] for r in mine["tasks"]] == [ranks[a1], ranks[a2]]
    assert b1 not in (await api.get("/api/queue", headers=ann)).text

    core.clock.advance(1)
    a3 = await submit(api, ann)  # after the pass: no position yet, listed last
    mine = (await api.get("/api/queue", headers=ann)).json()["tasks"]
    assert [r["task_id"] for r in mine] == [a1, a2, a3] and mine[-1]["position"] is None
    assert (await anonymous(api, "GET", "/api/queue")).status_code == 401


async def test_queue_pages_with_a_cursor_that_survives_departures(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    admin = await admin_headers(api, core)
    assert isinstance(core.clock, FakeClock)
    for _ in range(5):
        await submit(api, admin)
        core.clock.advance(1)
    await core.dispatcher.schedule_once()
    full = await _queue(api, admin, "limit=1000")

    first = (await api.get("/api/queue?limit=2", headers=admin)).json()
    assert [t["task_id"] for t in first["tasks"]] == full[:2] and first["total"] == 5
    cancelled = await api.delete(f"/api/tasks/{full[0]}", headers=admin)
    assert cancelled.status_code == 200  # leaving the queue shifts nothing for the cursor
    seen, cursor = [t["task_id"] for t in first["tasks"]], first["next_cursor"]
    while cursor:
        page = (await api.get(f"/api/queue?limit=2&cursor={cursor}", headers=admin)).json()
        seen += [t["task_id"] for t in page["tasks"]]
        cursor = page["next_cursor"]
    assert seen == full


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "limit=x", "cursor=%2A%2A", "cursor=bm9wZQ", "cursor="]
)
async def test_queue_rejects_bad_paging(api: httpx.AsyncClient, query: str) -> None:
    headers = await login(api, "cy")
    answer = await api.get(f"/api/queue?{query}", headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_request"


async def test_stats_count_workers_resources_tasks_and_sla(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    ann = await login(api, "ann")
    await core.registry.register("w1", "10.0.0.1:50052", BIG)
    await core.registry.register("w2", "10.0.0.2:50052", Resources(2, 4, 10, 0))
    done = await submit(api, ann, target_worker_id="w1")
    held = await submit(api, ann, target_worker_id="w1", cpu_required=2)
    await place(core)
    report = AttemptReport(done, 1, "w1", TaskStatus.COMPLETED, 0, "exit code 0", False, 0)
    assert await core.lifecycle.finished(report) is not None
    await submit(api, ann, cpu_required=64)  # fits nowhere: stays queued
    core.registry.mark_suspect("w2", "unreachable in this test")

    answer = await api.get("/api/stats", headers=ann)
    assert answer.status_code == 200, answer.text
    stats = answer.json()
    assert stats["workers"] == {"active": 1, "suspect": 1, "lost": 0}
    assert stats["resources"]["total"] == {"cpu": 4.0, "memory": 8.0, "storage": 100.0, "gpu": 1}
    assert stats["resources"]["allocated"]["cpu"] == 2.0  # `held`; w2 is not active
    assert stats["resources"]["available"]["cpu"] == 2.0
    assert stats["tasks"] == {
        "queued": 1, "assigned": 1, "running": 0, "completed": 1, "failed": 0, "cancelled": 0,
    }  # fmt: skip
    assert stats["queue_depth"] == 1
    assert stats["sla"]["by_scheduler"]["round_robin"] == {"met": 1, "total": 1, "rate": 1.0}
    assert held not in answer.text
    assert (await anonymous(api, "GET", "/api/stats")).status_code == 401
