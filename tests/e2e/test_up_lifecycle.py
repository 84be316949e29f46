"""Stopping CloudAI: Ctrl-C (twice), SIGTERM and SIGHUP leave no container behind; without
Docker, `up` says it is unsandboxed and still runs tasks; secrets stay out of the output;
`master` and `worker` take every setting from their CLOUDAI_ variables."""

from __future__ import annotations

import signal
import stat
from pathlib import Path

import pytest

from tests.e2e.cluster import (
    ADMIN_EMAIL,
    Cluster,
    Daemon,
    clean_env,
    free_port,
    start_up,
    submit,
    wait_for,
)


@pytest.mark.docker
def test_cancel_and_a_double_ctrl_c_leave_no_container(tmp_path: Path) -> None:
    cluster = start_up(tmp_path, "--workers", "1", "--executor", "docker")
    try:
        with cluster.user("carol") as carol:
            first = submit(carol, command="echo started; sleep 300")
            wait_for(carol, first, {"running"})
            assert carol.delete(f"/api/tasks/{first}").json()["status"] == "cancelled"
            assert carol.delete(f"/api/tasks/{first}").status_code == 409
            # The shell is the container's PID 1, which ignores SIGTERM: stopping it takes
            # the whole grace period, so the second Ctrl-C lands while cleanup runs.
            second = submit(carol, command="echo started; sleep 300")
            wait_for(carol, second, {"running"})
            assert any(second in name for name in cluster.containers())
        cluster.daemon.send(signal.SIGINT)
        cluster.daemon.wait_for_output("stopping: workers and their containers first")
        cluster.daemon.send(signal.SIGINT)
    except BaseException:
        cluster.stop()
        raise
    code = cluster.daemon.wait()
    assert code == 0, cluster.daemon.output
    assert "already stopping (SIGINT ignored)" in cluster.daemon.output
    assert "Traceback" not in cluster.daemon.output
    assert cluster.containers() == []


def _secret(cluster: Cluster, name: str) -> str:
    """A generated secret: in its file, mode 0600, named by the banner, printed nowhere."""
    path = cluster.data_dir / "secrets" / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    value = path.read_text().strip()
    assert value and value not in cluster.daemon.output
    return value


def test_without_docker_up_warns_runs_unsandboxed_and_stops_on_sighup(tmp_path: Path) -> None:
    cluster = start_up(
        tmp_path,
        "--workers", "1",
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"},
        admin_password=None,
    )  # fmt: skip
    try:
        assert "WITHOUT a sandbox" in cluster.banner
        assert "process (NOT sandboxed)" in cluster.banner
        password_file = tmp_path / "secrets" / "admin-password"
        assert f"admin password: in {password_file} (shown only on a terminal)" in cluster.banner
        password = _secret(cluster, "admin-password")
        _secret(cluster, "join-token")
        cluster.login(ADMIN_EMAIL, password).close()
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
        code = cluster.stop(signal.SIGHUP)
    assert code == 0, cluster.daemon.output
    assert "stopping: workers and their containers first" in cluster.daemon.output


def test_master_and_worker_take_every_setting_from_variables(tmp_path: Path) -> None:
    http_port, grpc_port = free_port(), free_port()
    master = Daemon(
        ["master"],
        clean_env(
            CLOUDAI_DATA_DIR=str(tmp_path / "master"), CLOUDAI_HTTP_PORT=str(http_port),
            CLOUDAI_GRPC_PORT=str(grpc_port), CLOUDAI_HOST="127.0.0.1",
            CLOUDAI_SCHEDULER="best_fit", CLOUDAI_LOG_LEVEL="INFO",
        ),
    )  # fmt: skip
    worker: Daemon | None = None
    try:
        banner = master.wait_for_output(f"--master 127.0.0.1:{grpc_port}")
        token_file = tmp_path / "master" / "secrets" / "join-token"
        assert f"join token:     in {token_file}" in banner
        token = token_file.read_text().strip()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        worker = Daemon(
            ["worker"],
            clean_env(
                CLOUDAI_MASTER=f"127.0.0.1:{grpc_port}", CLOUDAI_JOIN_TOKEN=token,
                CLOUDAI_WORKER_PORT="0", CLOUDAI_WORKER_ID="w-env", CLOUDAI_EXECUTOR="process",
                CLOUDAI_DATA_DIR=str(tmp_path / "worker"), CLOUDAI_LOG_LEVEL="info",
            ),
        )  # fmt: skip
        worker.wait_for_output("registered with master")
        assert "executor: process" in worker.output
        cluster = Cluster(master, f"http://127.0.0.1:{http_port}", grpc_port, tmp_path, banner)
        with cluster.user("erin") as erin:
            task = wait_for(erin, submit(erin, command="echo via variables"), {"completed"})
        assert task["worker_id"] == "w-env"
        assert token not in master.output + worker.output
    finally:
        if worker is not None:
            assert worker.stop() == 0, worker.output
        assert master.stop() == 0, master.output
