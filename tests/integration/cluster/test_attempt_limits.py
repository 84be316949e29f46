"""Per attempt, end to end (master and worker in one event loop over real gRPC, the
fake executor): each attempt's log stays readable by `attempt`; /output files over the
worker's caps are left out and the task's attempt says so."""

from __future__ import annotations

from pathlib import Path

from cloudai.worker.executors.base import ExecutionSpec
from cloudai.worker.executors.fake import FakeExecutor, FakeRun
from tests.integration.cluster.support import wait
from tests.integration.cluster.test_worker_restart import (
    api,
    start_master,
    start_worker,
    submit,
    worker_settings,
)


def script(spec: ExecutionSpec) -> FakeRun:
    if spec.command == "retry":  # the first attempt's executor breaks: a counted retry
        if spec.epoch == 1:
            return FakeRun(lines=["first attempt"], exit_code=None, error="executor broke")
        return FakeRun(lines=["second attempt"], exit_code=3)
    return FakeRun(lines=["files"], files={"a.txt": b"a", "b.txt": b"b", "c.txt": b"c"})


async def test_each_attempts_log_is_its_own_and_stays_readable(tmp_path: Path) -> None:
    master = await start_master(tmp_path)
    try:
        worker = await start_worker(worker_settings(master, tmp_path), FakeExecutor(script))
        async with api(master) as http:
            task_id = await submit(http, "retry", max_retries=1)
            assert (await wait(http, task_id, "failed"))["attempt"] == 2
            url = f"/api/tasks/{task_id}/logs"
            first = (await http.get(url, params={"attempt": 1})).json()
            assert (first["logs"], first["attempt"], first["complete"]) == (
                "first attempt\n", 1, True,
            )  # fmt: skip
            second = (await http.get(url, params={"attempt": 2})).json()
            assert (second["logs"], second["attempt"]) == ("second attempt\n", 2)
            assert (await http.get(url)).json() == second  # the current one by default
            missing = await http.get(url, params={"attempt": 3})
            assert missing.status_code == 404, missing.text
            assert (await http.get(url, params={"attempt": 0})).status_code == 422
        await worker.stop()
    finally:
        await master.stop()


async def test_outputs_over_the_caps_are_named_on_the_task(tmp_path: Path) -> None:
    master = await start_master(tmp_path)
    try:
        settings = worker_settings(master, tmp_path, max_output_files=2)
        worker = await start_worker(settings, FakeExecutor(script))
        async with api(master) as http:
            task_id = await submit(http, "files")
            task = await wait(http, task_id, "completed,failed")
            assert task["status"] == "completed"
            (attempt,) = task["attempts"]
            assert "1 output file over the caps not collected" in attempt["reason"], attempt
            files = (await http.get(f"/api/files/{task_id}")).json()["files"]
            assert [f["path"] for f in files] == ["a.txt", "b.txt"]
            logs = (await http.get(f"/api/tasks/{task_id}/logs")).json()["logs"]
            assert "not collected from /output: c.txt: over cap (max_files=2)" in logs
        await worker.stop()
    finally:
        await master.stop()


async def test_a_running_tasks_usage_shows_on_its_worker_and_its_detail(tmp_path: Path) -> None:
    master = await start_master(tmp_path)
    executor = FakeExecutor(lambda spec: FakeRun(lines=["busy"], block=True))
    try:
        worker = await start_worker(worker_settings(master, tmp_path), executor)
        async with api(master) as http:
            task_id = await submit(http, "hold")
            await wait(http, task_id, "running")
            await executor.wait_started(task_id, 1)
            executor.used[(task_id, 1)] = (0.75, 0.5)  # what the next heartbeats carry
            assert master.core is not None
            registry = master.core.registry

            async def measured() -> tuple[bool, bool]:  # re-checked at every heartbeat
                w = registry.get("w1")
                seen = w is not None and w.usage.of_task(task_id, 1) is not None
                return seen, seen

            assert await master.core.watch.wait_for(measured, 30)
            shown = (await http.get("/api/workers/w1")).json()["tasks"]
            assert [(t["task_id"], t["usage"]) for t in shown] == [
                (task_id, {"cpu": 0.75, "memory_gb": 0.5})
            ]
            detail = (await http.get(f"/api/tasks/{task_id}")).json()
            assert detail["usage"] == {"cpu": 0.75, "memory_gb": 0.5}
            executor.finish(task_id, 1)
            done = await wait(http, task_id, "completed")
            assert done["usage"] is None  # nothing runs any more
        await worker.stop()
    finally:
        await master.stop()
