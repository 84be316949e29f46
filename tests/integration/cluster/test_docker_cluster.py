"""A master and a worker in one event loop over real gRPC, the worker with the real
DockerExecutor (built from its settings, as `cloudai worker` builds it): the start-up a
task's events show, and a timeout the master enforces on a real container."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from cloudai.config import MasterSettings, WorkerSettings
from cloudai.master.app import MasterApp
from cloudai.worker.app import WorkerApp
from cloudai.worker.executors.docker import LABEL_TASK_ID
from tests.integration.cluster import support
from tests.integration.cluster.support import wait
from tests.registry import Registry

pytestmark = pytest.mark.docker

PASSWORD = "docker-cluster-test-password"
IMAGE = "cloudai-test:latest"


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path, **worker: Any) -> AsyncIterator[httpx.AsyncClient]:
    master = MasterApp(
        MasterSettings(
            data_dir=tmp_path / "master", http_port=0, grpc_port=0,
            admin_password=SecretStr(PASSWORD), admin_email="root@example.test",
            heartbeat_suspect_s=2.5,  # the liveness and timeout check every 0.5 s
            allow_private_registries=True,  # the test registry is on 127.0.0.1
        )
    )  # fmt: skip
    await master.start()
    app = None
    try:
        settings = WorkerSettings(
            master=f"127.0.0.1:{master.grpc_port}", token=SecretStr(master.secrets.join_token),
            port=0, id="w1", data_dir=tmp_path / "worker", heartbeat_s=0.2, executor="docker",
            stop_grace_s=1, **worker,
        )  # fmt: skip
        app = WorkerApp(settings)
        await app.start()
        await app.registered.wait()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{master.http_port}") as http:
            login = await http.post(
                "/api/auth/login", json={"email": "root@example.test", "password": PASSWORD}
            )
            http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            yield http
    finally:
        if app is not None:
            await app.stop()
        await master.stop()


async def submit(http: httpx.AsyncClient, **fields: Any) -> str:
    return await support.submit(http, IMAGE, **fields)


async def delivered(http: httpx.AsyncClient, task_id: str) -> tuple[list[str], str]:
    """The task's stored files and log, once its attempt's outputs reached the master
    (after its end: the master learns of those only by asking)."""
    async with asyncio.timeout(30):
        while True:
            files = (await http.get(f"/api/files/{task_id}")).json().get("files") or []
            if files:
                logs = (await http.get(f"/api/tasks/{task_id}/logs")).json()["logs"]
                return [f["path"] for f in files], logs
            await asyncio.sleep(0.1)


async def test_the_events_show_pulling_and_creating_before_running(
    registry: Registry, docker_client: Any, tmp_path: Path
) -> None:
    image = registry.push(docker_client, unique_layer=True)
    async with cluster(tmp_path, pull_policy="if-not-present") as http:
        task_id = await submit(http, docker_image=image, command="echo hi")
        task = await wait(http, task_id, "completed,failed")
    assert task["status"] == "completed", task
    steps = [(e["from_status"], e["to_status"], e["reason"]) for e in task["events"]]
    kinds = [_kind(reason, to) for _, to, reason in steps]
    before = kinds[: kinds.index("running")]  # "running" only once the container started
    assert before[:3] == ["queued", "assigned", "pulling"] and before[-1] == "creating", steps
    assert set(before[2:-1]) == {"pulling"}, steps  # more lines when a pull takes long
    assert kinds[kinds.index("running") :] == ["running", "completed"], steps
    for from_status, to_status, reason in steps[2 : len(before)]:
        assert (from_status, to_status) == ("assigned", "assigned"), reason  # no status change
    assert steps[2][2] == f"pulling image {image}"


async def test_the_auth_file_setting_lets_pulls_through_and_a_missing_tag_fails_final(
    auth_registry: Registry, docker_client: Any, tmp_path: Path
) -> None:
    image = auth_registry.push(docker_client)
    auth_file = tmp_path / "registry-auth.json"
    auth_file.write_text(json.dumps({auth_registry.host: auth_registry.auth}))
    async with cluster(tmp_path, pull_policy="always", registry_auth_file=auth_file) as http:
        pulled = await submit(http, docker_image=image, command="echo authorised")
        missing = await submit(http, docker_image=f"{auth_registry.host}/cloudai-test:absent")
        ok = await wait(http, pulled, "completed,failed")
        failed = await wait(http, missing, "completed,failed")
    assert ok["status"] == "completed", ok
    assert failed["reason"].startswith(f"pull image '{auth_registry.host}/cloudai-test:absent'")
    assert "not found" in failed["reason"] and len(failed["reason"]) <= 200
    assert failed["exit_code"] is None  # nothing ran
    assert [a["status"] for a in failed["attempts"]] == ["failed"]  # final: no retry
    assert failed["retries"] == 0


def _kind(reason: str, to_status: str) -> str:
    if reason.startswith("pulling image"):
        return "pulling"
    if reason.startswith("creating container"):
        return "creating"
    return to_status


async def test_a_task_past_its_timeout_is_stopped_and_keeps_its_log_and_outputs(
    docker_client: Any, tmp_path: Path
) -> None:
    command = "echo started; echo x > /output/part.txt; sleep 300"
    async with cluster(tmp_path) as http:
        task_id = await submit(http, command=command, timeout_seconds=2, max_retries=0)
        await wait(http, task_id, "running")
        task = await wait(http, task_id, "failed,completed,cancelled")
        assert task["status"] == "failed" and task["reason"].startswith("timeout"), task
        assert task["exit_code"] is None
        files, logs = await delivered(http, task_id)
        assert files == ["part.txt"]
        assert "started\n" in logs
        body = await http.get(f"/api/files/{task_id}/download/part.txt")
        assert body.content == b"x\n"
    mine = {"label": f"{LABEL_TASK_ID}={task_id}"}
    assert docker_client.containers.list(all=True, filters=mine) == []  # the container is gone
