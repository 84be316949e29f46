"""`cloudai up` as a real process: master, two Docker workers, SQLite, REST, gRPC."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.cluster import ADMIN_PASSWORD, Cluster, clean_env, start_up, submit, wait_for

pytestmark = pytest.mark.docker

SCRIPT = (
    "echo hello from cloudai; echo second line; echo to-stderr >&2; "
    "mkdir -p /output/sub; printf 'result-%s' 42 > /output/result.txt; "
    "head -c 100000 /dev/urandom > /output/sub/data.bin; ln -s /etc/passwd /output/link"
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_up(tmp_path_factory.mktemp("up"), "--workers", "2", "--executor", "docker")
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def alice(cluster: Cluster) -> Iterator[httpx.Client]:
    with cluster.user("alice") as client:
        yield client


@pytest.fixture(scope="module")
def bob(cluster: Cluster) -> Iterator[httpx.Client]:
    with cluster.user("bob") as client:
        yield client


def test_banner_names_url_and_admin_but_no_secret_outside_a_terminal(cluster: Cluster) -> None:
    assert cluster.base_url in cluster.banner
    assert "admin@example.test" in cluster.banner
    # stdout is a pipe here, as under systemd: the password the test set is not repeated.
    assert "admin password: as set by CLOUDAI_ADMIN_PASSWORD" in cluster.banner
    assert ADMIN_PASSWORD not in cluster.daemon.output
    with cluster.client() as anon:
        health = anon.get("/health").json()
    assert health["status"] == "healthy" and health["active_workers"] == 2


def test_task_runs_end_to_end_and_only_its_owner_sees_it(
    cluster: Cluster, alice: httpx.Client, bob: httpx.Client
) -> None:
    task_id = submit(alice, command=SCRIPT, name="e2e", tag="cpu-light", k_value=2.0)
    task = wait_for(alice, task_id, {"completed"})
    assert task["exit_code"] == 0
    short = (cluster.data_dir / "cluster-id").read_text().strip().removeprefix("cluster-")[:6]
    assert task["worker_id"] in {f"local-{short}-1", f"local-{short}-2"}
    assert task["started_at"] and task["finished_at"]
    path = [e["to_status"] for e in task["events"] if e["from_status"] != e["to_status"]]
    assert path == ["queued", "assigned", "running", "completed"]
    # Start-up steps are events of the assigned task; the image is here: no pull.
    steps = [e["reason"] for e in task["events"] if e["from_status"] == e["to_status"]]
    assert [step.split(" cloudai-")[0] for step in steps] == ["creating container"]

    logs = alice.get(f"/api/tasks/{task_id}/logs").json()
    assert logs["complete"] is True
    # Each stream keeps its order; the two pipes' lines may interleave either way.
    assert "to-stderr\n" in logs["logs"]
    assert "hello from cloudai\nsecond line\n" in logs["logs"].replace("to-stderr\n", "")
    assert "[cloudai] not collected from /output: link" in logs["logs"]

    listing = alice.get(f"/api/files/{task_id}").json()
    files = {f["path"]: f for f in listing["files"]}
    assert set(files) == {"result.txt", "sub/data.bin"}
    assert files["result.txt"]["size"] == len(b"result-42")
    assert files["sub/data.bin"]["size"] == 100000
    assert listing["total_size"] == 100000 + len(b"result-42")
    for rel, meta in files.items():
        body = alice.get(f"/api/files/{task_id}/download/{rel}")
        assert body.status_code == 200
        assert len(body.content) == meta["size"]
        assert hashlib.sha256(body.content).hexdigest() == meta["sha256"]
    assert alice.get(f"/api/files/{task_id}/download/result.txt").content == b"result-42"

    for url in (
        f"/api/tasks/{task_id}",
        f"/api/tasks/{task_id}/logs",
        f"/api/files/{task_id}",
        f"/api/files/{task_id}/download/result.txt",
    ):
        assert bob.get(url).status_code == 404, url
    assert bob.delete(f"/api/tasks/{task_id}").status_code == 404
    assert task_id not in [t["task_id"] for t in bob.get("/api/tasks").json()["tasks"]]
    assert task_id in [t["task_id"] for t in alice.get("/api/tasks").json()["tasks"]]


def test_task_bigger_than_every_worker_stays_queued(alice: httpx.Client) -> None:
    huge = submit(alice, command="echo never", cpu_required=512)
    # A smaller task submitted afterwards runs: the dispatcher has planned past the huge one.
    small = submit(alice, command="echo small")
    wait_for(alice, small, {"completed"})
    task = alice.get(f"/api/tasks/{huge}").json()
    assert task["status"] == "queued"
    assert task["worker_id"] is None and task["attempts"] == []
    assert "no registered worker could ever fit" in task["pending_reason"]
    assert alice.delete(f"/api/tasks/{huge}").json()["status"] == "cancelled"


def test_failing_task_reports_exit_code_and_keeps_outputs(alice: httpx.Client) -> None:
    task_id = submit(alice, command=["/bin/sh", "-c", "echo partial > /output/partial.txt; exit 3"])
    task = wait_for(alice, task_id, {"failed"})
    assert task["exit_code"] == 3
    assert task["reason"] == "exit code 3"
    files = alice.get(f"/api/files/{task_id}").json()["files"]
    assert [(f["path"], f["size"]) for f in files] == [("partial.txt", 8)]


def test_unauthenticated_requests_are_refused(cluster: Cluster) -> None:
    with cluster.client() as anon:
        assert anon.get("/api/tasks").status_code == 401
        assert anon.post("/api/tasks", json={"docker_image": "x"}).status_code == 401
    with cluster.client("not-a-token") as forged:
        assert forged.get("/api/auth/me").status_code == 401


def test_worker_without_the_join_token_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    master = f"127.0.0.1:{cluster.grpc_port}"
    command = [sys.executable, "-m", "cloudai", "worker", "--master", master, "--port", "0"]
    command += ["--data-dir", str(tmp_path), "--id", "intruder"]
    result = subprocess.run(
        command, env=clean_env(CLOUDAI_JOIN_TOKEN="wrong"), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "invalid cluster join token" in result.stderr
    with cluster.client() as anon:
        assert anon.get("/health").json()["workers"] == 2
