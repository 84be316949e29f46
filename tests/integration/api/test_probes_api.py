"""Liveness, readiness and the Prometheus endpoint: what each reports, that readiness
fails on a dead database or a stalled scheduler, and that /metrics parses (promtool)
and shows aggregates only."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cloudai.api.app import create_app
from cloudai.domain.task import AttemptReport, TaskStatus
from cloudai.domain.workers import Usage, Worker
from cloudai.master.core import CoreOptions, MasterCore, build_core
from cloudai.master.gateway import FakeWorkerGateway
from cloudai.ports import FakeClock
from cloudai.store.memory import InMemoryStore
from tests.integration.api.cluster_support import BIG, place, submit
from tests.integration.api.conftest import login


class BreakableStore(InMemoryStore):
    """A store whose database 'goes away' on demand."""

    broken = False

    async def list_workers(self) -> list[Worker]:
        if self.broken:
            raise ConnectionError("could not connect to db.internal.example:5432")
        return await super().list_workers()


@pytest.fixture
async def breakable(tmp_path: Path) -> AsyncIterator[tuple[BreakableStore, httpx.AsyncClient]]:
    store = BreakableStore()
    core = build_core(store, FakeClock(), FakeWorkerGateway(), CoreOptions(tmp_path, "k" * 32))
    await core.dispatcher.schedule_once()
    transport = httpx.ASGITransport(app=create_app(core.services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield store, client


async def test_livez_answers_whenever_the_process_does(api: httpx.AsyncClient) -> None:
    answer = await api.get("/livez")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


async def test_readyz_needs_a_recent_scheduling_pass(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    before = await api.get("/readyz")
    assert before.status_code == 503 and before.json()["status"] == "not_ready"
    assert before.json()["checks"]["database"]["ok"] is True
    assert before.json()["checks"]["scheduler"]["ok"] is False

    await core.dispatcher.schedule_once()
    ready = await api.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"

    assert isinstance(core.clock, FakeClock)
    core.clock.advance(11)  # over max(10 s, 5 x the 1 s interval)
    stalled = await api.get("/readyz")
    assert stalled.status_code == 503
    assert "last pass 11 s ago" in stalled.json()["checks"]["scheduler"]["detail"]


async def test_readyz_scales_with_a_long_schedule_interval(tmp_path: Path) -> None:
    clock = FakeClock()
    options = CoreOptions(tmp_path, "k" * 32, schedule_interval_s=4.0)
    core = build_core(InMemoryStore(), clock, FakeWorkerGateway(), options)
    await core.dispatcher.schedule_once()
    clock.advance(19)  # within 5 x 4 s
    assert (await core.services.cluster.readiness()).ready
    clock.advance(2)
    assert not (await core.services.cluster.readiness()).ready


async def test_readyz_fails_when_the_database_does(
    breakable: tuple[BreakableStore, httpx.AsyncClient],
) -> None:
    store, client = breakable
    assert (await client.get("/readyz")).status_code == 200
    store.broken = True
    answer = await client.get("/readyz")
    assert answer.status_code == 503
    check = answer.json()["checks"]["database"]
    assert check == {"ok": False, "detail": "query failed: ConnectionError"}
    assert "db.internal" not in answer.text  # the probe is public: no host names
    assert (await client.get("/livez")).status_code == 200


_SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$'
)


def parse_exposition(text: str) -> dict[str, float]:
    """A strict reader of the 0.0.4 text format: HELP then TYPE before each family's
    samples, every sample under a declared family; returns "name{labels}" -> value."""
    values: dict[str, float] = {}
    declared: dict[str, str] = {}
    helped: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split(" ", 3)[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name in helped, f"TYPE before HELP for {name}"
            declared[name] = kind
        else:
            match = _SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name = match.group(1)
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in declared or declared.get(family) == "histogram", line
            values[name + (match.group(2) or "")] = float(match.group(3))
    return values


def promtool_check(text: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "promtool is not on PATH: install Debian's 'prometheus' package "
            "(scripts/install-deps.sh promtool does)"
        )
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_metrics_parse_and_show_aggregates_only(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    assert isinstance(core.clock, FakeClock)
    ann = await login(api, "ann")
    await core.registry.register("w1", "10.0.0.1:50052", BIG)
    await core.registry.heartbeat("w1", Usage(cpu=10))
    task_id = await submit(api, ann, target_worker_id="w1")
    await submit(api, ann, cpu_required=64)  # fits nowhere: stays queued
    core.clock.advance(1)
    await place(core)
    assert await core.lifecycle.started(task_id, 1, "w1") is not None
    core.clock.advance(2)
    report = AttemptReport(task_id, 1, "w1", TaskStatus.COMPLETED, 0, "exit code 0", False, 0)
    assert await core.lifecycle.finished(report) is not None
    # Outside the API's prefixes an unknown path is the dashboard's (routes/ui.py).
    assert (await api.get("/api/no/such/route-abc123")).status_code == 404

    with core.bus.signal(task_id=task_id), core.bus.signal():  # two clients waiting
        answer = await api.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    promtool_check(answer.text)
    values = parse_exposition(answer.text)
    assert values["cloudai_event_subscribers"] == 2
    assert values['cloudai_tasks{status="completed"}'] == 1
    assert values['cloudai_tasks{status="queued"}'] == values["cloudai_queue_depth"] == 1
    assert values['cloudai_workers{status="active"}'] == 1
    assert values["cloudai_heartbeats_total"] == 1
    assert values['cloudai_sla_total{result="met"}'] == 1
    assert values['cloudai_sla_total{result="missed"}'] == 0
    assert values["cloudai_placement_latency_seconds_count"] == 1
    assert values["cloudai_placement_latency_seconds_sum"] == 1.0
    assert values['cloudai_task_run_seconds_sum{task_type="cpu-light"}'] == 2.0
    assert values['cloudai_task_run_seconds_bucket{task_type="cpu-light",le="1"}'] == 0
    assert values['cloudai_task_run_seconds_bucket{task_type="cpu-light",le="5"}'] == 1
    assert (
        values['cloudai_http_request_duration_seconds_count{method="POST",route="/api/tasks"}'] == 2
    )
    assert (
        # The dashboard's catch-all route took it (and answered 404): one shared label.
        values['cloudai_http_request_duration_seconds_count{method="GET",route="/{path:path}"}']
        == 1
    )
    user = (await api.get("/api/auth/me", headers=ann)).json()
    for secret in (task_id, user["user_id"], user["email"], "route-abc123", "10.0.0.1"):
        assert secret not in answer.text
