"""Stopping `cloudai up` and cancelling tasks leave no container behind; without
Docker, `up` says it is unsandboxed and still runs tasks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.cluster import start_up, submit, wait_for


def cloudai_containers() -> list[str]:
    listed = subprocess.run(
        ["docker", "ps", "-a", "--filter", "label=cloudai.task_id", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


@pytest.mark.docker
def test_cancel_and_sigterm_stop_running_containers(tmp_path: Path) -> None:
    cluster = start_up(tmp_path, "--workers", "1", "--executor", "docker")
    try:
        with cluster.user("carol") as carol:
            first = submit(carol, command="echo started; sleep 300")
            wait_for(carol, first, {"running"})
            assert carol.delete(f"/api/tasks/{first}").json()["status"] == "cancelled"
            assert carol.delete(f"/api/tasks/{first}").status_code == 409
            second = submit(carol, command="echo started; sleep 300")
            wait_for(carol, second, {"running"})
            assert any(second in name for name in cloudai_containers())
    finally:
        code = cluster.stop()
    assert code == 0
    assert cloudai_containers() == []


def test_without_docker_up_warns_and_runs_unsandboxed(tmp_path: Path) -> None:
    cluster = start_up(
        tmp_path, "--workers", "1", env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    )
    try:
        assert "WITHOUT a sandbox" in cluster.banner
        assert "process (NOT sandboxed)" in cluster.banner
        with cluster.user("dave") as dave:
            task_id = submit(
                dave,
                command='echo plain; mkdir -p "$CLOUDAI_OUTPUT_DIR/d"; '
                'echo 7 > "$CLOUDAI_OUTPUT_DIR/d/seven.txt"',
            )
            task = wait_for(dave, task_id, {"completed", "failed"})
            assert task["status"] == "completed", task
            assert "plain\n" in dave.get(f"/api/tasks/{task_id}/logs").json()["logs"]
            files = dave.get(f"/api/files/{task_id}").json()["files"]
            assert [(f["path"], f["size"]) for f in files] == [("d/seven.txt", 2)]
    finally:
        assert cluster.stop() == 0
