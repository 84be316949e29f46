"""Master faults, with real processes and containers: kill -9 and restart of the master,
a master whose disk is full, and `cloudai up` stopped with tasks running."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import (
    HOLD,
    ChaosCluster,
    ContainerEvents,
    Timings,
    assert_clean,
    assert_ended_once,
    assert_nothing_holds,
    at,
    attempt_statuses,
    detail,
)
from tests.e2e.cluster import TERMINAL, start_up, submit, wait_for

pytestmark = pytest.mark.docker


def test_kill_9_and_restart_of_the_master_loses_nothing_and_reruns_nothing(
    chaos: ChaosCluster,
) -> None:
    # The worker keeps its attempts while cut off for less than its disconnect limit.
    t = chaos.timings = Timings(disconnect_limit_s=30)
    chaos.start("chaos-a")
    admin = chaos.admin()  # its token outlives the master's restart
    try:
        early, late = submit(admin, command=HOLD), submit(admin, command=HOLD)
        held = {task_id: wait_for(admin, task_id, {"running"}) for task_id in (early, late)}
        for task_id in held:
            chaos.log.wait(task_id, 1, "start")
        chaos.kill_master()
        chaos.release(held[early])  # it ends while the master is down ...
        chaos.log.wait(early, 1, "die")
        restarted_at = time.time()
        serve_s = chaos.start_master()
        chaos.note("master kill -9: restart to serving (banner)", serve_s)
        assert serve_s < t.disconnect_limit_s

        done = wait_for(admin, early, TERMINAL)  # ... and its result arrives afterwards
        chaos.note("master kill -9: restart to the spooled result recorded",
                   at(done["finished_at"]) - restarted_at)  # fmt: skip
        assert_ended_once(done, "completed")
        assert attempt_statuses(done) == ["succeeded"] and done["attempt"] == 1
        assert [f["path"] for f in admin.get(f"/api/files/{early}").json()["files"]] == ["go"]

        # The other attempt ran on through the outage: same epoch, same container.
        still = detail(admin, late)
        assert (still["status"], still["attempt"]) == ("running", 1)
        assert chaos.log.at(late, 1, "die") is None
        chaos.release(still)
        finished = wait_for(admin, late, TERMINAL)
        assert_ended_once(finished, "completed")
        assert attempt_statuses(finished) == ["succeeded"]

        workers = admin.get("/api/workers").json()
        assert [(w["worker_id"], w["status"]) for w in workers["workers"]] == [
            ("chaos-a", "active")
        ]
        assert chaos.master is not None and "worker lost" not in chaos.master.output
        assert_clean(chaos, admin, [early, late], overlap_s=0)
    finally:
        admin.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs where the master keeps its data directory (needs root)."""
    mount_point = tmp_path / "master"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
        capture_output=True, text=True,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def test_a_full_master_disk_fails_the_task_with_a_reason_and_the_master_recovers(
    small_disk: Path, chaos: ChaosCluster, tmp_path: Path
) -> None:
    # The database lives elsewhere: a full disk under the database is another fault.
    chaos.master_args = ["--db", f"sqlite+aiosqlite:///{tmp_path / 'cloudai.db'}"]
    chaos.start("chaos-a")
    assert chaos.master_dir == small_disk
    with chaos.admin() as admin:
        big = submit(admin, command="dd if=/dev/zero of=/output/big.bin bs=1M count=5; echo wrote")
        submitted = time.monotonic()
        done = wait_for(admin, big, TERMINAL, timeout=60)
        chaos.note("full disk: submit to failed", time.monotonic() - submitted)
        assert_ended_once(done, "failed")
        assert "output storage full" in done["reason"], done["reason"]
        assert attempt_statuses(done) == ["failed"] and done["retries"] == 0
        assert admin.get(f"/api/files/{big}").json()["files"] == []
        logs = admin.get(f"/api/tasks/{big}/logs")
        assert logs.status_code in (200, 404), logs.text  # the log may not fit either
        # No partial file is left taking the space: the master goes on storing outputs.
        assert not [p for p in small_disk.rglob("*") if p.name.startswith(".incoming-")]
        small = submit(admin, command="echo fine > /output/small.txt")
        assert_ended_once(wait_for(admin, small, TERMINAL), "completed")
        body = admin.get(f"/api/files/{small}/download/small.txt")
        assert body.status_code == 200 and body.content == b"fine\n"
        assert_clean(chaos, admin, [big, small], overlap_s=0)


def _database(data_dir: Path) -> dict[str, str]:
    """Every task's status as the database has it, read while nothing runs."""
    with sqlite3.connect(f"file:{data_dir / 'cloudai.db'}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT task_id, status FROM tasks").fetchall())


@pytest.mark.timeout(180)
def test_stopping_up_with_tasks_running_leaves_them_queued_never_cancelled(
    tmp_path: Path,
) -> None:
    env = Timings().worker_env()
    cluster = start_up(tmp_path, "--workers", "1", "--executor", "docker", env=env)
    log = ContainerEvents(cluster.cluster_id, time.time() - 5)
    try:
        with cluster.login_admin() as admin:
            quick = submit(admin, command="echo quick")
            assert wait_for(admin, quick, TERMINAL)["status"] == "completed"
            held = [submit(admin, command=HOLD) for _ in range(2)]
            for task_id in held:
                wait_for(admin, task_id, {"running"})
                log.wait(task_id, 1, "start")
        stopping = time.monotonic()
        assert cluster.stop() == 0, cluster.daemon.output
        stop_s = time.monotonic() - stopping
        print(f"figure up SIGTERM with two running tasks: stop took {stop_s:.2f} s")
        assert cluster.containers() == []
        assert _database(tmp_path) == {quick: "completed", **dict.fromkeys(held, "queued")}

        cluster = start_up(tmp_path, "--workers", "1", "--executor", "docker", env=env)
        with cluster.login_admin() as admin:
            for task_id in held:
                task = wait_for(admin, task_id, {"running"})
                output = tmp_path / "workers" / task["worker_id"] / "attempts"
                (output / f"{task_id}-{task['attempt']}" / "output" / "go").touch()
                done = wait_for(admin, task_id, TERMINAL)
                assert_ended_once(done, "completed")
                statuses = attempt_statuses(done)
                assert statuses[0] == "interrupted" and statuses[-1] == "succeeded", statuses
                assert done["retries"] == 0
                assert not any("cancel" in e["reason"] for e in done["events"]), done["events"]
                assert log.overlap(task_id) == 0
            again = detail(admin, quick)
            assert_ended_once(again, "completed")
            assert attempt_statuses(again) == ["succeeded"]
            assert_nothing_holds(admin)
    finally:
        code = cluster.stop()
        log.close()
    assert code == 0, cluster.daemon.output
    assert cluster.containers() == []
