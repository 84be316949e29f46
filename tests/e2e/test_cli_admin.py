"""The admin verbs as real processes against a real `cloudai up` (process executor):
register a worker started with --wait-for-master, unregister it, users, fix-resources,
internal-state; their JSON output and every exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.cluster import Cluster, Daemon, clean_env, free_port, start_up


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_up(tmp_path_factory.mktemp("up"), "--workers", "1", "--executor", "process")
    yield running
    assert running.stop() == 0


def _token(client: httpx.Client) -> str:
    created = client.post("/api/auth/tokens", json={"name": "cli"})
    assert created.status_code == 201, created.text
    token: str = created.json()["token"]
    return token


class Cli:
    """`cloudai` with an API token (CLOUDAI_URL and CLOUDAI_TOKEN: no login needed)."""

    def __init__(self, cluster: Cluster, client: httpx.Client, home: Path) -> None:
        self.env = clean_env(
            CLOUDAI_URL=cluster.base_url, CLOUDAI_TOKEN=_token(client),
            CLOUDAI_CONFIG_DIR=str(home),
        )  # fmt: skip

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cloudai", *args], env=self.env, capture_output=True,
            text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip


@pytest.fixture(scope="module")
def admin(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    with cluster.login_admin() as client:
        return Cli(cluster, client, tmp_path_factory.mktemp("admin"))


def _user(cluster: Cluster, name: str, home: Path) -> Cli:
    with cluster.user(name) as client:
        return Cli(cluster, client, home)


def test_register_a_waiting_worker_then_unregister_it(
    cluster: Cluster, admin: Cli, tmp_path: Path
) -> None:
    port = free_port()
    worker = Daemon(
        ["worker", "--wait-for-master", "--port", str(port), "--id", "w-wait",
         "--executor", "process", "--data-dir", str(tmp_path / "worker")],
        clean_env(),
    )  # fmt: skip
    try:
        worker.wait_for_output("waits for a master to register it")
        registered = admin("register", f"127.0.0.1:{port}", "--id", "w-wait", "--output", "json")
        assert registered.returncode == 0, registered.stderr
        assert json.loads(registered.stdout)["state"] == "pending"
        worker.wait_for_output("registered with master")
        listed = json.loads(admin("workers", "--output", "json").stdout)["workers"]
        assert "w-wait" in [w["worker_id"] for w in listed]
        again = admin("register", f"127.0.0.1:{port}")
        assert again.returncode == 1 and "not waiting" in again.stderr  # 409
        removed = admin("unregister", "w-wa")  # an unambiguous prefix
        assert removed.returncode == 0 and "w-wait: removed" in removed.stdout, removed.stderr
        assert admin("unregister", "w-wait").returncode == 3
    finally:
        assert worker.stop() == 0


def test_register_reports_an_unreachable_worker_and_usage_errors(admin: Cli) -> None:
    down = admin("register", f"127.0.0.1:{free_port()}")
    assert down.returncode == 1 and down.stderr.strip() and down.stdout == ""
    assert admin("register").returncode == 2  # ADDRESS missing
    assert admin("register", "no-port").returncode == 1  # 422 from the master


def test_users_list_disable_enable_and_admin_rights(
    cluster: Cluster, admin: Cli, tmp_path: Path
) -> None:
    cleo = _user(cluster, "cleo", tmp_path / "cleo")
    assert cleo("users").returncode == 4  # not an admin
    listed = json.loads(admin("users", "--output", "json").stdout)["users"]
    assert "cleo@example.test" in [u["email"] for u in listed]
    assert admin("users").returncode == 0
    made = admin("users", "make-admin", "cleo@example.test", "--output", "json")
    assert made.returncode == 0 and json.loads(made.stdout)["is_admin"] is True
    assert cleo("users", "list").returncode == 0
    assert admin("users", "remove-admin", "cleo@example.test").returncode == 0
    assert cleo("users", "list").returncode == 4
    disabled = admin("users", "disable", "cleo@example.test")
    assert disabled.returncode == 0 and "disabled" in disabled.stdout
    assert cleo("list-tasks").returncode == 4  # its API token was revoked
    assert admin("users", "enable", "cleo@example.test").returncode == 0
    assert admin("users", "disable", "nobody@example.test").returncode == 3
    myself = admin("users", "disable", "admin@example.test")
    assert myself.returncode == 1 and "themselves" in myself.stderr  # 409


def test_fix_resources_and_internal_state(cluster: Cluster, admin: Cli, tmp_path: Path) -> None:
    fixed = admin("fix-resources", "--output", "json")
    assert fixed.returncode == 0, fixed.stderr
    workers = json.loads(fixed.stdout)["workers"]
    assert workers and all(w["drift"]["missing_on_worker"] == [] for w in workers)
    assert admin("fix-resources").returncode == 0
    state = admin("internal-state", "--output", "json")
    assert state.returncode == 0 and "registry" in json.loads(state.stdout)
    table = admin("internal-state")
    assert table.returncode == 0 and "scheduler:" in table.stdout
    dana = _user(cluster, "dana", tmp_path / "dana")
    assert dana("fix-resources").returncode == 4
    assert dana("internal-state").returncode == 4
