"""GPUs across master and worker, with a fake inventory (CI has no GPU): the worker
offers its devices, reports their utilisation, and gives each GPU attempt its own."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from cloudai.config import MasterSettings, WorkerSettings
from cloudai.master.app import MasterApp
from cloudai.worker.app import WorkerApp
from cloudai.worker.executors.fake import FakeExecutor, FakeRun
from cloudai.worker.gpus import FakeGpuProbe
from tests.integration.cluster.test_grpc_cluster import PASSWORD, Cluster
from tests.unit.test_gpu_check_script import load_script


@contextlib.asynccontextmanager
async def gpu_cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    master = MasterApp(
        MasterSettings(
            data_dir=tmp_path / "master", http_port=0, grpc_port=0,
            admin_password=SecretStr(PASSWORD), admin_email="root@example.test",
        )
    )  # fmt: skip
    await master.start()
    executor = FakeExecutor(lambda spec: FakeRun(block=True))
    worker = WorkerApp(
        WorkerSettings(
            master=f"127.0.0.1:{master.grpc_port}", token=SecretStr(master.secrets.join_token),
            port=0, id="w1", data_dir=tmp_path / "worker", heartbeat_s=0.1,
        ),
        executor=executor,
        gpu_probe=FakeGpuProbe.with_count(2, busy=40.0, memory_used=10.0),
    )  # fmt: skip
    await worker.start()
    await worker.registered.wait()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{master.http_port}") as http:
        login = await http.post(
            "/api/auth/login", json={"email": "root@example.test", "password": PASSWORD}
        )
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield Cluster(master, worker, executor, http)
    await worker.stop()
    await master.stop()


async def _submit_gpu_task(cluster: Cluster, gpus: int) -> str:
    body = {"docker_image": "img", "command": "block", "gpu_required": gpus}
    response = await cluster.http.post("/api/tasks", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["task_id"])


async def test_worker_offers_its_gpus_and_reports_their_use(tmp_path: Path) -> None:
    async with gpu_cluster(tmp_path) as cluster:
        core = cluster.master.core
        assert core is not None
        worker = core.registry.get("w1")
        assert worker is not None and worker.total.gpu == 2

        async def reported() -> tuple[bool, float]:
            seen = core.registry.get("w1")
            usage = seen.usage.gpu if seen else 0.0
            return usage > 0, usage

        assert await core.watch.wait_for(reported, 30) == 40.0


async def test_gpu_tasks_never_share_a_device(tmp_path: Path) -> None:
    async with gpu_cluster(tmp_path) as cluster:
        first, second, third = [await _submit_gpu_task(cluster, 1) for _ in range(3)]
        for task_id in (first, second):
            await cluster.wait(task_id, "running")
            await cluster.executor.wait_started(task_id, 1)
        ids = {s.task_id: s.gpu_ids for s in cluster.executor.specs}
        assert {ids[first], ids[second]} == {(0,), (1,)}
        waiting = (await cluster.http.get(f"/api/tasks/{third}")).json()
        assert waiting["status"] == "queued", waiting

        cluster.executor.finish(first, 1)
        await cluster.wait(first, "completed")
        await cluster.wait(third, "running")
        await cluster.executor.wait_started(third, 1)
        assert [s.gpu_ids for s in cluster.executor.specs if s.task_id == third] == [ids[first]]
        for task_id in (second, third):
            cluster.executor.finish(task_id, 1)
            await cluster.wait(task_id, "completed")


# Stands in for the CUDA program: counts the devices CUDA_VISIBLE_DEVICES lets it see.
FAKE_CUDA_PROGRAM = """\
import os, sys
ids = os.environ.get("CUDA_VISIBLE_DEVICES")
print("CUDA_VISIBLE_DEVICES=" + repr(ids))
import time; time.sleep(0.2)
print(f"cuda: rc=0 devices={len([i for i in (ids or '').split(',') if i])}")
sys.exit(0 if True else 3)
"""


def test_the_gpu_check_script_passes_on_a_fake_inventory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole script (process executor, real processes) with 2 fake GPUs."""
    script = load_script()
    monkeypatch.setattr(script, "NvmlProbe", lambda: FakeGpuProbe.with_count(2))
    monkeypatch.setattr(script, "CUDA_PROGRAM", FAKE_CUDA_PROGRAM)
    monkeypatch.setenv("CLOUDAI_WORKER_FAKE_GPUS", "2")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    code = script.main(["--timeout", "60"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("PASS") == 7 and "FAIL" not in out, out
    assert "CUDA_VISIBLE_DEVICES ['0', '1']" in out or "['1', '0']" in out, out
