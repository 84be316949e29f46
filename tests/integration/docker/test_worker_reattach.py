"""A worker process restarted with the same data directory re-attaches to its running
containers: after kill -9, and after a stop in the `leave` mode. The task completes as
its first attempt, with its whole log exactly once (lines printed while no worker ran
included) and its output file. A stop in the `drain` mode lets the task finish first.
Real `cloudai master` and `cloudai worker` processes, the real dockerd (the chaos
suite's harness: free ports, temporary directories, this cluster's containers only)."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import (
    ChaosCluster,
    Timings,
    assert_clean,
    assert_ended_once,
    attempt_statuses,
    detail,
    wait_until,
)
from tests.e2e.cluster import TERMINAL, submit, wait_for

pytestmark = pytest.mark.docker

WORKER = "reattach-w"
# Numbered lines until the test drops `go` into /output, then an output file and a last
# line without a newline.
COUNTING = (
    "i=0; while [ ! -e /output/go ]; do i=$((i+1)); echo line $i; sleep 0.05; done; "
    "echo $i > /output/count.txt; printf 'end-no-eol'"
)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ChaosCluster]:
    # The master must not declare the worker lost while it restarts: that would requeue
    # the task and make the adopted attempt a stale one (a case the chaos suite covers).
    chaos = ChaosCluster(tmp_path, timings=Timings(suspect_s=30, lost_s=60))
    try:
        yield chaos
    finally:
        chaos.close()


def spooled_log(chaos: ChaosCluster, task_id: str) -> Path:
    return chaos.worker_dir(WORKER) / WORKER / "attempts" / f"{task_id}-1" / "task.log"


def last_line(log: bytes) -> int:
    found = re.findall(rb"^line (\d+)$", log, re.M)
    return int(found[-1]) if found else 0


def daemon_log_reaches(task_id: str, line: int) -> bool:
    name = f"cloudai-{task_id}-1"
    logs = subprocess.run(["docker", "logs", name], capture_output=True, check=True).stdout
    return last_line(logs) >= line


def running_task(chaos: ChaosCluster) -> str:
    with chaos.admin() as admin:
        task_id = submit(admin, command=COUNTING, max_retries=0)
        wait_for(admin, task_id, {"running"}, timeout=60)
    log = spooled_log(chaos, task_id)
    wait_until(lambda: last_line(log.read_bytes()) >= 5, 30, "the first lines in the log")
    return task_id


def unseen_lines(chaos: ChaosCluster, task_id: str) -> None:
    """Wait until the container printed lines that only dockerd has: no worker runs."""
    held = last_line(spooled_log(chaos, task_id).read_bytes())
    wait_until(lambda: daemon_log_reaches(task_id, held + 20), 30, "lines no worker read")


def finish_and_check(chaos: ChaosCluster, task_id: str) -> None:
    """Restarted already: let the task end; one attempt, the log once, the file."""
    chaos.workers[WORKER].wait_for_output("re-attached to 1 running tasks")
    log = spooled_log(chaos, task_id)
    held = last_line(log.read_bytes())
    wait_until(lambda: last_line(log.read_bytes()) >= held + 10, 30, "lines followed again")
    with chaos.admin() as admin:
        chaos.release(detail(admin, task_id))
        done = wait_for(admin, task_id, TERMINAL, timeout=60)
        assert_ended_once(done, "completed")
        assert attempt_statuses(done) == ["succeeded"] and done["attempt"] == 1, done
        text = admin.get(f"/api/tasks/{task_id}/logs").json()["logs"]
        numbers = [int(n) for n in re.findall(r"^line (\d+)$", text, re.M)]
        assert numbers == list(range(1, len(numbers) + 1))  # no gap, no repeat
        assert text == "".join(f"line {n}\n" for n in numbers) + "end-no-eol"
        listed = admin.get(f"/api/files/{task_id}").json()["files"]
        assert sorted(f["path"] for f in listed) == ["count.txt", "go"]
        count = admin.get(f"/api/files/{task_id}/download/count.txt")
        assert count.status_code == 200 and count.text == f"{len(numbers)}\n"
        assert_clean(chaos, admin, [task_id], overlap_s=0)


def test_a_worker_killed_and_restarted_re_attaches_and_the_task_completes(
    cluster: ChaosCluster,
) -> None:
    cluster.start(WORKER)
    task_id = running_task(cluster)
    cluster.kill_worker(WORKER)
    unseen_lines(cluster, task_id)
    cluster.start_workers(WORKER)  # same id, same data directory
    finish_and_check(cluster, task_id)
    assert "removed" not in cluster.workers[WORKER].output  # nothing of it was reaped


def test_a_worker_stopped_in_leave_mode_leaves_the_task_running_for_its_next_start(
    cluster: ChaosCluster,
) -> None:
    cluster.start()  # the master and the container events; the worker with its mode:
    cluster.start_workers(WORKER, CLOUDAI_WORKER_ON_SHUTDOWN="leave")
    task_id = running_task(cluster)
    assert cluster.stop_worker(WORKER) == 0
    assert "leaving 1 tasks running" in cluster.workers[WORKER].output
    assert len(cluster.running_containers(task_id)) == 1
    with cluster.admin() as admin:
        assert detail(admin, task_id)["status"] == "running"
    unseen_lines(cluster, task_id)
    cluster.start_workers(WORKER)
    finish_and_check(cluster, task_id)


def test_a_worker_stopped_in_drain_mode_finishes_its_task_first(cluster: ChaosCluster) -> None:
    cluster.start()
    cluster.start_workers(WORKER, CLOUDAI_WORKER_ON_SHUTDOWN="drain")
    task_id = running_task(cluster)
    worker = cluster.workers[WORKER]
    worker.send(signal.SIGTERM)
    worker.wait_for_output("draining: no new tasks")
    assert worker.process.poll() is None  # still there, its task still running
    with cluster.admin() as admin:
        task = detail(admin, task_id)
        assert task["status"] == "running"
        cluster.release(task)
        assert worker.wait(timeout=60) == 0
        done = wait_for(admin, task_id, TERMINAL, timeout=10)
        assert_ended_once(done, "completed")
        assert attempt_statuses(done) == ["succeeded"]
        text = admin.get(f"/api/tasks/{task_id}/logs").json()["logs"]
        assert text.startswith("line 1\n") and text.endswith("end-no-eol")
        assert_clean(cluster, admin, [task_id], overlap_s=0)
