"""Master and worker in one event loop over real gRPC and HTTP on loopback, with the
fake executor: the protocol's authentication, fencing, cancellation and live logs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from pydantic import SecretStr

from cloudai._proto import cluster_pb2 as pb
from cloudai._proto import cluster_pb2_grpc as pb_grpc
from cloudai.config import MasterSettings, WorkerSettings
from cloudai.master.app import MasterApp
from cloudai.rpc.credentials import CREDENTIAL_HEADER, WORKER_ID_HEADER, worker_credential
from cloudai.worker.app import WorkerApp
from cloudai.worker.executors.base import ExecutionSpec
from cloudai.worker.executors.fake import FakeExecutor, FakeRun

PASSWORD = "cluster-test-password"


def script(spec: ExecutionSpec) -> FakeRun:
    """The command string picks the fake outcome."""
    command = spec.command if isinstance(spec.command, str) else ""
    if command == "block":
        return FakeRun(lines=["working"], files={"partial.txt": b"p"}, block=True)
    return FakeRun(lines=["line one", "line two"], files={"out/a.txt": b"alpha"})


@dataclass
class Cluster:
    master: MasterApp
    worker: WorkerApp
    executor: FakeExecutor
    http: httpx.AsyncClient

    async def submit(self, command: str) -> str:
        response = await self.http.post(
            "/api/tasks", json={"docker_image": "img", "command": command}
        )
        assert response.status_code == 201, response.text
        task_id: str = response.json()["task_id"]
        return task_id

    async def wait(self, task_id: str, until: str) -> dict[str, object]:
        response = await self.http.get(
            f"/api/tasks/{task_id}/wait", params={"until": until, "timeout": 30}
        )
        body: dict[str, object] = response.json()
        assert body["status"] in until.split(","), body
        return body


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with running_cluster(tmp_path) as running:
        yield running


@contextlib.asynccontextmanager
async def running_cluster(
    tmp_path: Path, executor: FakeExecutor | None = None, **master_settings: Any
) -> AsyncIterator[Cluster]:
    master = MasterApp(
        MasterSettings(
            data_dir=tmp_path / "master", http_port=0, grpc_port=0,
            admin_password=SecretStr(PASSWORD), admin_email="root@example.test",
            **master_settings,
        )
    )  # fmt: skip
    await master.start()
    executor = executor or FakeExecutor(script)
    worker = WorkerApp(
        WorkerSettings(
            master=f"127.0.0.1:{master.grpc_port}", token=SecretStr(master.secrets.join_token),
            port=0, id="w1", data_dir=tmp_path / "worker", heartbeat_s=0.1,
        ),
        executor=executor,
    )  # fmt: skip
    await worker.start()
    await worker.registered.wait()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{master.http_port}") as http:
        login = await http.post(
            "/api/auth/login", json={"email": "root@example.test", "password": PASSWORD}
        )
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        cluster = Cluster(master, worker, executor, http)
        yield cluster
    await worker.stop()
    await cluster.master.stop()  # the test may have replaced (restarted) the master


async def test_task_completes_with_logs_and_files(cluster: Cluster) -> None:
    task_id = await cluster.submit("echo")
    task = await cluster.wait(task_id, "completed")
    assert task["worker_id"] == "w1" and task["exit_code"] == 0
    logs = (await cluster.http.get(f"/api/tasks/{task_id}/logs")).json()
    assert logs["logs"] == "line one\nline two\n" and logs["complete"] is True
    files = (await cluster.http.get(f"/api/files/{task_id}")).json()["files"]
    assert [(f["path"], f["size"]) for f in files] == [("out/a.txt", 5)]
    spec = cluster.executor.specs[0]
    assert (spec.task_id, spec.epoch, spec.cpu, spec.memory_gb) == (task_id, 1, 1.0, 0.5)


async def test_running_log_is_read_from_the_worker_then_cancel_stops_it(
    cluster: Cluster,
) -> None:
    task_id = await cluster.submit("block")
    await cluster.wait(task_id, "running")
    await cluster.executor.wait_started(task_id, 1)
    live = (await cluster.http.get(f"/api/tasks/{task_id}/logs")).json()
    assert live["logs"] == "working\n" and live["complete"] is False
    tail = (await cluster.http.get(f"/api/tasks/{task_id}/logs?offset=4")).json()
    assert tail["logs"] == "ing\n" and tail["next_offset"] == 8

    cancelled = await cluster.http.delete(f"/api/tasks/{task_id}")
    assert cancelled.json()["status"] == "cancelled"
    assert (task_id, 1) in cluster.executor.stops
    # The stopped attempt still ships its files (after the stop); the task stays cancelled.
    core = cluster.master.core
    assert core is not None

    async def shipped() -> tuple[bool, list[str]]:
        files = (await cluster.http.get(f"/api/files/{task_id}")).json()["files"]
        return bool(files), [f["path"] for f in files]

    assert await core.watch.wait_for(shipped, 30) == ["partial.txt"]
    assert (await cluster.http.get(f"/api/tasks/{task_id}")).json()["status"] == "cancelled"


async def test_worker_refuses_calls_without_the_masters_credential(cluster: Cluster) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{cluster.worker.port}") as channel:
        stub = pb_grpc.MasterWorkerStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.AssignTask(pb.Task(task_id="task-evil", epoch=1, docker_image="x"))
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        evil = pb.TaskBatch(tasks=[pb.Task(task_id="task-evil", epoch=1, docker_image="x")])
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.AssignTasks(evil)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        forged = ((CREDENTIAL_HEADER, "0" * 64),)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CancelTask(pb.TaskID(task_id="task-x"), metadata=forged)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        redirect = await stub.MasterRegister(pb.MasterInfo(master_address="evil:1"))
        assert redirect.success is False
    assert cluster.executor.specs == []


async def test_master_refuses_forged_and_unfenced_worker_calls(cluster: Cluster) -> None:
    task_id = await cluster.submit("block")
    await cluster.wait(task_id, "running")
    token = cluster.master.secrets.join_token
    async with grpc.aio.insecure_channel(f"127.0.0.1:{cluster.master.grpc_port}") as channel:
        stub = pb_grpc.MasterWorkerStub(channel)
        forged = ((WORKER_ID_HEADER, "w1"), (CREDENTIAL_HEADER, worker_credential("x", "w1")))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ReportTaskCompletion(
                pb.TaskResult(task_id=task_id, epoch=1, status="success"), metadata=forged
            )
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        # A genuinely joined other worker cannot upload into w1's attempt.
        other = ((WORKER_ID_HEADER, "w2"), (CREDENTIAL_HEADER, worker_credential(token, "w2")))

        async def chunks() -> AsyncIterator[pb.FileChunk]:
            yield pb.FileChunk(task_id=task_id, epoch=1, file_path="x", is_last_chunk=True)

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.UploadTaskFiles(chunks(), metadata=other)
        assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
        ack = await stub.ReportTaskCompletion(
            pb.TaskResult(task_id=task_id, epoch=1, status="success"), metadata=other
        )
        assert "ignored" in ack.message
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.AssignTask(pb.Task(task_id="t"))
        assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.AssignTasks(pb.TaskBatch(tasks=[pb.Task(task_id="t")]))
        assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert (await cluster.http.get(f"/api/tasks/{task_id}")).json()["status"] == "running"
    cluster.executor.finish(task_id, 1)
    await cluster.wait(task_id, "completed")


async def test_path_traversal_in_an_upload_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    task_id = await cluster.submit("block")
    await cluster.wait(task_id, "running")
    token = cluster.master.secrets.join_token
    meta = ((WORKER_ID_HEADER, "w1"), (CREDENTIAL_HEADER, worker_credential(token, "w1")))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{cluster.master.grpc_port}") as channel:
        stub = pb_grpc.MasterWorkerStub(channel)
        for bad in ("../../escape.txt", "/etc/passwd", "a/../../b", ""):

            async def chunks(path: str = bad) -> AsyncIterator[pb.FileChunk]:
                yield pb.FileChunk(
                    task_id=task_id, epoch=1, file_path=path, data=b"x", is_last_chunk=True
                )

            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.UploadTaskFiles(chunks(), metadata=meta)
            assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT, bad
    assert not await asyncio.to_thread(lambda: list(tmp_path.rglob("escape.txt")))
    cluster.executor.finish(task_id, 1)
    await cluster.wait(task_id, "completed")


async def test_refused_upload_still_reports_the_outcome(tmp_path: Path) -> None:
    # The log and out/a.txt together exceed 10 bytes: the master refuses the files.
    async with running_cluster(tmp_path, max_upload_bytes=10) as cluster:
        task_id = await cluster.submit("echo")
        task = await cluster.wait(task_id, "completed,failed")
        assert task["status"] == "completed"
        assert "output files not stored: upload exceeds 10 bytes" in str(task["reason"])
        files = (await cluster.http.get(f"/api/files/{task_id}")).json()["files"]
        assert files == []


async def test_master_restart_is_a_non_event_for_running_work(tmp_path: Path) -> None:
    async with running_cluster(tmp_path) as cluster:
        running = await cluster.submit("block")
        await cluster.wait(running, "running")
        await cluster.executor.wait_started(running, 1)
        await cluster.master.stop()
        # The worker keeps running its attempt while the master is away.
        assert await cluster.executor.running() == [(running, 1)]
        # Same data directory, same address for the worker to find again.
        settings = cluster.master.settings.model_copy(
            update={"grpc_port": cluster.master.grpc_port}
        )
        restarted = MasterApp(settings)
        await restarted.start()
        cluster.master = restarted
        cluster.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{restarted.http_port}", headers=cluster.http.headers
        )
        async with cluster.http:
            queued = await cluster.submit("echo")
            await cluster.wait(queued, "completed")  # the new master schedules again
            cluster.executor.finish(running, 1)
            task = await cluster.wait(running, "completed")
            assert task["attempt"] == 1  # the same attempt finished: nothing was re-run


class StubbornExecutor(FakeExecutor):
    """A task that ignores SIGTERM: stop() takes as long as the grace period."""

    def __init__(self) -> None:
        super().__init__(script)
        self.grace_over = asyncio.Event()

    async def stop(self, task_id: str, epoch: int, grace_s: float = 10.0) -> bool:
        await self.grace_over.wait()
        return await super().stop(task_id, epoch, grace_s)


async def test_cancel_answers_at_once_even_if_the_task_ignores_sigterm(tmp_path: Path) -> None:
    stubborn = StubbornExecutor()
    # The grace period only ends after the DELETE has answered: were the cancel to wait
    # for the stop, it would never answer (the RPC deadline is pushed far out).
    async with running_cluster(tmp_path, executor=stubborn, assign_timeout_s=600) as cluster:
        task_id = await cluster.submit("block")
        await cluster.wait(task_id, "running")
        await stubborn.wait_started(task_id, 1)
        response = await cluster.http.delete(f"/api/tasks/{task_id}")
        assert response.json()["status"] == "cancelled"
        assert await stubborn.running() == [(task_id, 1)]  # still in its grace period
        stubborn.grace_over.set()
