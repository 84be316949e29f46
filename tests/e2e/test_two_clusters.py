"""Two CloudAI clusters on one Docker daemon: restarting either never touches the other's
containers (each worker removes only containers labelled with its own instance and
cluster ids), so neither loses a task."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.cluster import Cluster, start_up, submit, wait_for

# Runs until the test drops a file into its /output: no timing guesses.
HOLD = "echo started; while [ ! -e /output/go ]; do sleep 0.1; done; echo finished"


def release(cluster: Cluster, task_id: str) -> None:
    (output,) = cluster.data_dir.glob(f"workers/*/attempts/{task_id}-*/output")
    (output / "go").touch()


def start(data_dir: Path) -> Cluster:
    return start_up(data_dir, "--workers", "1", "--executor", "docker")


def hold_a_task(client: httpx.Client) -> str:
    task_id = submit(client, command=HOLD)
    wait_for(client, task_id, {"running"})
    return task_id


@pytest.mark.docker
def test_two_clusters_on_one_daemon_restart_in_turn_and_lose_nothing(tmp_path: Path) -> None:
    first, second = start(tmp_path / "first"), start(tmp_path / "second")
    try:
        assert first.cluster_id != second.cluster_id
        with first.login_admin() as admin_1, second.login_admin() as admin_2:
            held_2 = hold_a_task(admin_2)
            hold_a_task(admin_1)
        # The same worker id would collide; the ids name their cluster.
        assert (
            first.banner.split("workers:")[1].split()[0]
            != (second.banner.split("workers:")[1].split()[0])
        )
        others = second.containers()
        assert first.stop() == 0
        assert first.containers() == []
        first = start(tmp_path / "first")  # its worker reaps its own leftovers only
        with first.login_admin() as admin_1, second.login_admin() as admin_2:
            assert second.containers() == others
            release(second, held_2)
            assert wait_for(admin_2, held_2, {"completed", "failed"})["status"] == "completed"
            held_1 = hold_a_task(admin_1)
            others = first.containers()
            assert second.stop() == 0
            second = start(tmp_path / "second")
            assert first.containers() == others
            release(first, held_1)
            assert wait_for(admin_1, held_1, {"completed", "failed"})["status"] == "completed"
    finally:
        first.stop()
        second.stop()
    assert first.containers() == [] and second.containers() == []
