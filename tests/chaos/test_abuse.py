"""Abuse through the front door, with real processes and containers: output names a
filesystem or the wire cannot carry, and a flood of 10,000 tasks that never fit."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import pytest

from tests.chaos.harness import ChaosCluster, assert_clean, assert_ended_once, attempt_statuses
from tests.e2e.cluster import TERMINAL, submit, wait_for

pytestmark = pytest.mark.docker

LONG_NAME = "n" * 250  # under the 255-byte name limit, but not with a suffix added
DEEP_DIR = "/".join(["d"] * 520)  # a relative path over 1,024 characters


def test_odd_output_names_cost_only_themselves(chaos: ChaosCluster) -> None:
    chaos.start("chaos-a")
    command = "; ".join(
        [
            "echo kept > /output/ok.txt",
            f"echo long > /output/{LONG_NAME}",
            "echo raw > \"/output/$(printf 'bad-\\377.bin')\"",  # a name that is not UTF-8
            f"mkdir -p /output/{DEEP_DIR}",
            f"echo deep > /output/{DEEP_DIR}/deep.txt",
            "mkfifo /output/pipe",
            "echo written",
        ]
    )
    with chaos.user("olive") as olive, chaos.admin() as admin:
        task_id = submit(olive, command=command)
        done = wait_for(olive, task_id, TERMINAL)
        assert_ended_once(done, "completed")
        assert attempt_statuses(done) == ["succeeded"]
        files = {f["path"]: f["size"] for f in olive.get(f"/api/files/{task_id}").json()["files"]}
        assert files == {"ok.txt": 5, LONG_NAME: 5, "bad-\\xff.bin": 4}
        for path, body in (
            ("ok.txt", b"kept\n"),
            (LONG_NAME, b"long\n"),
            ("bad-\\xff.bin", b"raw\n"),
        ):
            got = olive.get(f"/api/files/{task_id}/download/{quote(path)}")
            assert (got.status_code, got.content) == (200, body), path
        logs = olive.get(f"/api/tasks/{task_id}/logs").json()["logs"]
        assert "written\n" in logs
        assert "kept under an escaped name (not UTF-8): bad-\\xff.bin" in logs
        assert f"not collected from /output: {DEEP_DIR}/deep.txt: path longer than 1024" in logs
        assert "not collected from /output: pipe: not a regular file" in logs
        assert_clean(chaos, admin, [task_id], overlap_s=0)


# 10,000 is the default per-user cap; CI floods that many. Passes read the queue from
# the master's in-memory index and leave out tasks no worker could ever fit, so a deep
# queue of them costs a submission little (about 140 s for 10,000 on 2 busy cores).
FLOOD = int(os.environ.get("CHAOS_FLOOD", "10000"))
IN_FLIGHT = 32  # requests at once
CHUNK = 500  # submissions timed together


def _submit_many(base_url: str, token: str, count: int, **fields: object) -> list[int]:
    """`count` submissions, IN_FLIGHT at a time over pooled connections; their statuses."""
    body = {"docker_image": "cloudai-test:latest", "command": "true", **fields}
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=base_url, headers=headers, limits=limits, timeout=120) as client,
        ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool,
    ):
        return list(pool.map(lambda _: client.post("/api/tasks", json=body).status_code,
                             range(count)))  # fmt: skip


@pytest.mark.timeout(max(180, FLOOD // 8))
def test_a_flood_of_unfit_tasks_delays_no_one_and_the_cap_holds(chaos: ChaosCluster) -> None:
    chaos.master_env = {"CLOUDAI_MAX_QUEUED_PER_USER": str(FLOOD)}
    chaos.start("chaos-a")  # 4 CPUs: a 64-CPU task never fits
    with chaos.user("mallory") as mallory, chaos.user("bob") as bob, chaos.admin() as admin:
        token = mallory.headers["Authorization"].removeprefix("Bearer ")
        begun = time.monotonic()
        for done in range(0, FLOOD - 10, CHUNK):
            count = min(CHUNK, FLOOD - 10 - done)
            chunk_begun = time.monotonic()
            statuses = _submit_many(chaos.base_url, token, count, cpu_required=64)
            assert statuses == [201] * count
            chaos.note(f"flood: {count} submissions with {done} queued, per submission",
                       (time.monotonic() - chunk_begun) / count)  # fmt: skip
        chaos.note(f"flood: {FLOOD - 10} submissions", time.monotonic() - begun)
        for _ in range(10):  # one at a time up to the cap (a burst may overshoot it: below)
            submit(mallory, command="true", cpu_required=64)
        refused = mallory.post("/api/tasks", json={"docker_image": "cloudai-test:latest"})
        assert refused.status_code == 429, refused.text
        assert f"{FLOOD} queued tasks" in refused.json()["detail"]

        submitted = time.monotonic()
        fits = submit(bob, command="echo fits")
        started = wait_for(bob, fits, {"running", "completed"}, timeout=60)
        chaos.note("flood: another user's fitting task, submit to started",
                   time.monotonic() - submitted)  # fmt: skip
        assert started["worker_id"] == "chaos-a"
        assert_ended_once(wait_for(bob, fits, TERMINAL), "completed")

        # Every queued task says why it waits (sampled pages, all after that pass).
        for offset in sorted({0, FLOOD // 2, FLOOD - 500}):
            page = mallory.get("/api/tasks", params={"status": "queued", "limit": 500,
                                                     "offset": offset})  # fmt: skip
            tasks = page.json()["tasks"]
            assert len(tasks) == 500, page.text
            reasons = {t["pending_reason"] for t in tasks}
            assert all(r and r.startswith("no registered worker could ever fit") for r in reasons)
        queued = mallory.get("/api/tasks", params={"status": "queued", "limit": 500,
                                                   "offset": FLOOD})  # fmt: skip
        assert queued.json()["tasks"] == []
        assert_clean(chaos, admin, [fits], overlap_s=0)


def test_a_concurrent_burst_at_the_cap_gets_exactly_the_free_places(chaos: ChaosCluster) -> None:
    chaos.master_env = {"CLOUDAI_MAX_QUEUED_PER_USER": "20"}
    chaos.start("chaos-a")
    with chaos.user("mallory") as mallory:
        token = mallory.headers["Authorization"].removeprefix("Bearer ")
        assert _submit_many(chaos.base_url, token, 10, cpu_required=64) == [201] * 10
        burst = _submit_many(chaos.base_url, token, IN_FLIGHT, cpu_required=64)
        queued = mallory.get("/api/tasks", params={"status": "queued", "limit": 500})
        print(f"burst of {IN_FLIGHT} at 10 free places: {burst.count(201)} accepted, "
              f"{len(queued.json()['tasks'])} queued (cap 20)")  # fmt: skip
        assert sorted(burst) == [201] * 10 + [429] * (IN_FLIGHT - 10), burst
