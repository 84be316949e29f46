"""The seed's admin flow over real gRPC and HTTP: a worker started with
--wait-for-master (no join token) is registered by an admin's POST /api/workers, joins
with the one-time token, runs tasks; a registered worker refuses another master's
MasterRegister; a removed worker is told it is unknown and waits to be registered again."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from pydantic import SecretStr

from cloudai._proto import cluster_pb2 as pb
from cloudai._proto import cluster_pb2_grpc as pb_grpc
from cloudai.config import MasterSettings, WorkerSettings
from cloudai.domain.errors import InvalidRequest
from cloudai.master.app import MasterApp
from cloudai.rpc.credentials import REGISTRATION_TOKEN_HEADER
from cloudai.worker.app import WorkerApp
from cloudai.worker.executors.base import ExecutionSpec
from cloudai.worker.executors.fake import FakeExecutor, FakeRun
from tests.integration.cluster.support import submit, wait

PASSWORD = "cluster-test-password"


def _script(spec: ExecutionSpec) -> FakeRun:
    return FakeRun(lines=["working"], block=spec.command == "block")


@contextlib.asynccontextmanager
async def waiting_worker(
    tmp_path: Path,
) -> AsyncIterator[tuple[MasterApp, WorkerApp, httpx.AsyncClient]]:
    master = MasterApp(
        MasterSettings(
            data_dir=tmp_path / "master", http_port=0, grpc_port=0,
            admin_password=SecretStr(PASSWORD), admin_email="root@example.test",
            heartbeat_suspect_s=5, heartbeat_lost_s=10,
        )
    )  # fmt: skip
    await master.start()
    worker = WorkerApp(
        WorkerSettings(
            wait_for_master=True, port=0, id="w-seed", data_dir=tmp_path / "worker",
            heartbeat_s=0.1,
        ),
        executor=FakeExecutor(_script),
    )  # fmt: skip
    await worker.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{master.http_port}") as http:
            login = await http.post(
                "/api/auth/login", json={"email": "root@example.test", "password": PASSWORD}
            )
            http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            yield master, worker, http
    finally:
        await worker.stop()
        await master.stop()


async def test_an_admin_registers_a_waiting_worker_which_then_runs_tasks(tmp_path: Path) -> None:
    async with waiting_worker(tmp_path) as (master, worker, http):
        assert worker.invitation is not None
        await worker.invitation.waiting.wait()
        assert not worker.registered.is_set()
        address = f"127.0.0.1:{worker.port}"
        answer = await http.post("/api/workers", json={"address": address})
        assert answer.status_code == 201, answer.text
        assert answer.json() == {
            **answer.json(), "worker_id": "w-seed", "address": address, "state": "pending",
        }  # fmt: skip
        await worker.registered.wait()
        assert master.core is not None
        registered = master.core.registry.get("w-seed")
        assert registered is not None and registered.address == address
        task_id = await submit(http, "img", command="echo")
        done = await wait(http, task_id, "completed")
        assert done["worker_id"] == "w-seed"  # heartbeats and reports use its credential

        again = await http.post("/api/workers", json={"address": address})
        assert again.status_code == 409, again.text  # registered: it refuses MasterRegister
        assert "not waiting" in again.json()["detail"]


async def test_a_removed_worker_waits_and_can_be_registered_again(tmp_path: Path) -> None:
    async with waiting_worker(tmp_path) as (_master, worker, http):
        assert worker.invitation is not None
        await worker.invitation.waiting.wait()
        address = f"127.0.0.1:{worker.port}"
        assert (await http.post("/api/workers", json={"address": address})).status_code == 201
        await worker.registered.wait()
        removed = await http.delete("/api/workers/w-seed")
        assert removed.status_code == 200 and removed.json()["state"] == "removed"
        await worker.invitation.waiting.wait()  # its heartbeat was answered "not registered"
        assert not worker.registered.is_set()
        wrong = await http.post("/api/workers", json={"address": address, "worker_id": "other"})
        assert wrong.status_code == 409 and "w-seed" in wrong.json()["detail"]
        back = await http.post("/api/workers", json={"address": address, "worker_id": "w-seed"})
        assert back.status_code == 201, back.text
        await worker.registered.wait()


async def test_a_made_up_registration_token_is_refused(tmp_path: Path) -> None:
    async with waiting_worker(tmp_path) as (master, _, _http):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{master.grpc_port}") as channel:
            stub = pb_grpc.MasterWorkerStub(channel)
            info = pb.WorkerInfo(worker_id="intruder", worker_ip="127.0.0.1:1", total_cpu=1)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.RegisterWorker(
                    info, metadata=((REGISTRATION_TOKEN_HEADER, "made-up"),), timeout=10
                )
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert master.core is not None and master.core.registry.get("intruder") is None


async def test_a_worker_needs_the_join_token_or_the_wait_flag_not_both(tmp_path: Path) -> None:
    for settings in (
        WorkerSettings(port=0, data_dir=tmp_path),
        WorkerSettings(port=0, data_dir=tmp_path, token=SecretStr("t"), wait_for_master=True),
    ):
        worker = WorkerApp(settings, executor=FakeExecutor(lambda spec: FakeRun()))
        with pytest.raises(InvalidRequest, match="join token"):
            await worker.start()


async def test_a_busy_worker_drains_and_the_master_removes_it_when_its_task_ends(
    tmp_path: Path,
) -> None:
    async with waiting_worker(tmp_path) as (master, worker, http):
        assert worker.invitation is not None and master.core is not None
        await worker.invitation.waiting.wait()
        assert (
            await http.post("/api/workers", json={"address": f"127.0.0.1:{worker.port}"})
        ).status_code == 201
        await worker.registered.wait()
        task_id = await submit(http, "img", command="block")
        await wait(http, task_id, "running")
        draining = await http.delete("/api/workers/w-seed")
        assert draining.status_code == 202 and draining.json()["state"] == "draining"
        assert master.core.registry.get("w-seed") is not None  # its task still runs
        assert (await http.delete(f"/api/tasks/{task_id}")).json()["status"] == "cancelled"
        # The maintenance loop removes it; its next heartbeat is refused, so it waits again.
        await worker.invitation.waiting.wait()
        assert master.core.registry.get("w-seed") is None
