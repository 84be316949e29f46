"""A worker's own shutdown interrupts its attempts (requeued, no retry spent, never
`cancelled`); results it could not deliver survive a restart of the worker while the
master is away; odd output names cost only themselves. Master and worker in one event
loop over real gRPC, with the fake executor."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from cloudai.config import MasterSettings, WorkerSettings
from cloudai.domain.task import TaskStatus
from cloudai.master.app import MasterApp
from cloudai.worker.app import WorkerApp
from cloudai.worker.executors.base import ExecutionSpec
from cloudai.worker.executors.fake import FakeExecutor, FakeRun
from tests.integration.cluster import support
from tests.integration.cluster.support import wait

PASSWORD = "restart-test-password"
ODD_NAMES = {
    "ok.txt": b"kept",
    "n" * 250: b"a long name",  # the master's temporary name once passed the name limit
    "bad-\udcff.bin": b"not utf-8",  # a name that is not UTF-8
    ("d/" * 520) + "deep.txt": b"too long a path",  # over 1,024 characters
}


def script(spec: ExecutionSpec) -> FakeRun:
    if spec.command == "odd":
        return FakeRun(lines=["odd"], files=ODD_NAMES)
    return FakeRun(lines=["working"], files={"out.txt": b"result"}, block=spec.command == "hold")


def worker_settings(master: MasterApp, tmp_path: Path, **changes: Any) -> WorkerSettings:
    return WorkerSettings(
        master=f"127.0.0.1:{master.grpc_port}", token=SecretStr(master.secrets.join_token),
        port=0, id="w1", data_dir=tmp_path / "worker", heartbeat_s=0.1, **changes,
    )  # fmt: skip


@contextlib.asynccontextmanager
async def api(master: MasterApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{master.http_port}") as http:
        login = await http.post(
            "/api/auth/login", json={"email": "root@example.test", "password": PASSWORD}
        )
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield http


async def start_master(tmp_path: Path, grpc_port: int = 0) -> MasterApp:
    master = MasterApp(
        MasterSettings(
            data_dir=tmp_path / "master", http_port=0, grpc_port=grpc_port,
            admin_password=SecretStr(PASSWORD), admin_email="root@example.test",
        )
    )  # fmt: skip
    await master.start()
    return master


async def start_worker(settings: WorkerSettings, executor: FakeExecutor) -> WorkerApp:
    worker = WorkerApp(settings, executor=executor)
    await worker.start()
    await worker.registered.wait()
    return worker


async def submit(http: httpx.AsyncClient, command: str, **fields: Any) -> str:
    return await support.submit(http, "img", command=command, **fields)


async def test_a_graceful_worker_restart_interrupts_and_requeues(tmp_path: Path) -> None:
    master = await start_master(tmp_path)
    executor = FakeExecutor(script)
    try:
        worker = await start_worker(worker_settings(master, tmp_path), executor)
        async with api(master) as http:
            task_id = await submit(http, "hold", max_retries=0)
            await wait(http, task_id, "running")
            await executor.wait_started(task_id, 1)
            await worker.stop()  # SIGTERM to the worker: its attempt is interrupted
            task = await wait(http, task_id, "queued")
            # The master may already have tried the gone worker again: refused, free too,
            # or still on its way there when the attempts were read (after the status).
            statuses = [a["status"] for a in task["attempts"]]
            assert statuses[0] == "interrupted", task
            assert set(statuses[1:]) <= {"refused", "assigned"}, task
            assert task["retries"] == 0
            assert not (tmp_path / "worker" / "w1" / "attempts" / f"{task_id}-1").exists()
            worker = await start_worker(worker_settings(master, tmp_path), executor)
            epoch = (await wait(http, task_id, "running"))["attempt"]
            await executor.wait_started(task_id, epoch)
            executor.finish(task_id, epoch)
            assert (await wait(http, task_id, "completed,failed"))["status"] == "completed"
        await worker.stop()
    finally:
        await master.stop()


async def test_a_result_spooled_while_the_master_was_away_arrives_after_both_restart(
    tmp_path: Path,
) -> None:
    master = await start_master(tmp_path)
    grpc_port = master.grpc_port
    executor = FakeExecutor(script)
    settings = worker_settings(master, tmp_path, stop_report_s=0.2)
    worker = await start_worker(settings, executor)
    async with api(master) as http:
        task_id = await submit(http, "hold")
        await wait(http, task_id, "running")
    await executor.wait_started(task_id, 1)
    await master.stop()
    executor.finish(task_id, 1)  # it ends while the master is down...
    await worker.stop()  # ...and the worker stops before it could deliver
    assert (tmp_path / "worker" / "w1" / "attempts" / f"{task_id}-1" / "finished.json").exists()
    master = await start_master(tmp_path, grpc_port)
    try:
        worker = await start_worker(settings, FakeExecutor(script))  # same data directory
        async with api(master) as http:
            task = await wait(http, task_id, "completed,failed")
            assert task["status"] == "completed" and task["attempt"] == 1
            files = (await http.get(f"/api/files/{task_id}")).json()["files"]
            assert [f["path"] for f in files] == ["out.txt"]
            logs = (await http.get(f"/api/tasks/{task_id}/logs")).json()["logs"]
            assert logs == "working\n"
        await worker.stop()
        assert not (tmp_path / "worker" / "w1" / "attempts" / f"{task_id}-1").exists()
    finally:
        await master.stop()


async def test_odd_output_names_cost_only_themselves(tmp_path: Path) -> None:
    master = await start_master(tmp_path)
    try:
        worker = await start_worker(worker_settings(master, tmp_path), FakeExecutor(script))
        async with api(master) as http:
            task_id = await submit(http, "odd")
            task = await wait(http, task_id, "completed,failed")
            assert task["status"] == "completed", task
            files = {f["path"] for f in (await http.get(f"/api/files/{task_id}")).json()["files"]}
            assert files == {"ok.txt", "n" * 250, "bad-\\xff.bin"}
            logs = (await http.get(f"/api/tasks/{task_id}/logs")).json()["logs"]
            assert "kept under an escaped name (not UTF-8): bad-\\xff.bin" in logs
            assert "not collected from /output: d/d/" in logs and "longer than 1024" in logs
        await worker.stop()
    finally:
        await master.stop()


async def test_a_worker_cut_off_past_its_limit_stops_its_attempts(tmp_path: Path) -> None:
    master = await start_master(tmp_path)
    grpc_port = master.grpc_port
    executor = FakeExecutor(script)
    worker = await start_worker(worker_settings(master, tmp_path, disconnect_limit_s=0.5), executor)
    async with api(master) as http:
        task_id = await submit(http, "hold", max_retries=0)
        await wait(http, task_id, "running")
    await executor.wait_started(task_id, 1)
    await master.stop()  # the master is gone: past the limit the worker stops the attempt
    await asyncio.wait_for(executor.wait_stopped(task_id, 1), 30)
    master = await start_master(tmp_path, grpc_port)
    try:
        async with api(master) as http:
            # Its report arrives: interrupted, back in the queue without spending a retry
            # (it ran again on the same worker: max_retries=0 would otherwise fail it).
            assert master.core is not None
            store, watch = master.core.store, master.core.watch

            async def rerunning() -> tuple[bool, int]:
                now = await store.get_task(task_id)
                assert now is not None
                return now.epoch > 1 and now.status is TaskStatus.RUNNING, now.epoch

            epoch = await watch.wait_for(rerunning, 30)
            task = (await http.get(f"/api/tasks/{task_id}")).json()
            assert task["attempt"] == epoch > 1 and task["retries"] == 0
            assert task["attempts"][0]["status"] == "interrupted"
            await executor.wait_started(task_id, epoch)
            executor.finish(task_id, epoch)
            assert (await wait(http, task_id, "completed,failed"))["status"] == "completed"
        await worker.stop()
    finally:
        await master.stop()
