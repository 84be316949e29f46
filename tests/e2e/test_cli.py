"""The user-facing `cloudai` verbs as real processes, against a real `cloudai up` cluster."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.cluster import Cluster, free_port, start_up

pytestmark = pytest.mark.docker

IMAGE = "cloudai-test:latest"
USER = "clia"
FAILING = "echo hi; echo x > /output/a.txt; exit 4"


@dataclass
class Cli:
    config_dir: Path
    url: str

    def env(self, url: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDAI_")}
        return env | {"CLOUDAI_CONFIG_DIR": str(self.config_dir), "CLOUDAI_URL": url or self.url}

    def __call__(self, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "cloudai", *args]
        return subprocess.run(
            command, env=self.env(url), capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def start(self, *args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "cloudai", *args]
        return subprocess.Popen(
            command, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_up(tmp_path_factory.mktemp("up"), "--workers", "1", "--executor", "docker")
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def cli(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    cluster.user(USER).close()  # registers the account over HTTP
    runner = Cli(tmp_path_factory.mktemp("home") / "config" / "cloudai", cluster.base_url)
    email, password = f"{USER}@example.test", f"{USER}-password"
    result = runner("login", "--email", email, "--password", password)
    assert result.returncode == 0, result.stderr
    assert email in result.stdout
    return runner


@pytest.fixture(scope="module")
def failed(cli: Cli) -> tuple[str, subprocess.CompletedProcess[str]]:
    """A task that prints, writes /output/a.txt and exits 4, run with --wait."""
    result = cli("task", IMAGE, "--wait", "--", "sh", "-c", FAILING)
    # stdout is the task's own output, like docker run; the id is said on stderr
    task_id = re.search(r"(task-\S+) queued", result.stderr).group(1)  # type: ignore[union-attr]
    assert task_id.startswith("task-"), result.stdout + result.stderr
    return task_id, result


def test_credentials_are_private(cli: Cli) -> None:
    path = cli.config_dir / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.config_dir.stat().st_mode) == 0o700
    stored = json.loads(path.read_text())
    current = stored["contexts"][stored["current"]]  # the login, as the current context
    assert current["url"] == cli.url and current["access_token"]


def test_verbs_without_login_say_so(cli: Cli, tmp_path: Path) -> None:
    stranger = Cli(tmp_path / "nobody", cli.url)
    result = stranger("list-tasks")
    assert result.returncode == 4  # not logged in
    assert "run `cloudai login` first" in result.stderr
    assert result.stdout == ""


def test_wrong_password_is_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    result = Cli(tmp_path, cli.url)("login", "--email", f"{USER}@example.test", "--password", "no")
    assert result.returncode == 4
    assert result.stderr.strip().splitlines() == [
        "error: invalid email or password (401 unauthorized)"
    ]
    assert not (tmp_path / "credentials.json").exists()


def test_wait_exits_with_the_task_exit_code(
    failed: tuple[str, subprocess.CompletedProcess[str]],
) -> None:
    task_id, result = failed
    assert result.returncode == 4, result.stderr
    assert result.stdout == "hi\n"  # the log, streamed; messages on stderr
    assert f"{task_id} failed: exit code 4" in result.stderr


def test_logs_print_the_task_output(
    cli: Cli, failed: tuple[str, subprocess.CompletedProcess[str]]
) -> None:
    result = cli("logs", failed[0])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi\n"


def test_files_are_listed_and_downloaded_once(
    cli: Cli, failed: tuple[str, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    task_id = failed[0]
    listing = cli("task-files", task_id)
    assert listing.returncode == 0, listing.stderr
    assert "a.txt" in listing.stdout
    assert json.loads(cli("task-files", task_id, "--json").stdout)["files"][0]["path"] == "a.txt"

    out = tmp_path / "copy.txt"
    first = cli("download", task_id, "a.txt", "-o", str(out))
    assert first.returncode == 0, first.stderr
    assert out.read_bytes() == b"x\n"
    assert str(out) in first.stdout

    again = cli("download", task_id, "a.txt", "-o", str(out))
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--force" in again.stderr
    forced = cli("download", task_id, "a.txt", "-o", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert out.read_bytes() == b"x\n"

    missing = cli("download", task_id, "nothere.txt", "-o", str(tmp_path / "n"))
    assert missing.returncode == 1 and "no file 'nothere.txt'" in missing.stderr
    assert not (tmp_path / "n").exists()


def test_list_tasks(cli: Cli, failed: tuple[str, subprocess.CompletedProcess[str]]) -> None:
    listed = json.loads(cli("list-tasks", "--json").stdout)
    assert failed[0] in [t["task_id"] for t in listed["tasks"]]
    table = cli("list-tasks", "--status", "failed")
    assert table.returncode == 0, table.stderr
    assert failed[0] in table.stdout
    bad = cli("list-tasks", "--status", "bogus")
    assert bad.returncode == 1 and "422 invalid_request" in bad.stderr


def test_status_explains_a_queued_task_and_cancel_ends_it(cli: Cli) -> None:
    submitted = cli("task", IMAGE, "--cpu", "512", "--", "echo", "never")
    assert submitted.returncode == 0, submitted.stderr
    huge = submitted.stdout.strip()
    # A smaller task submitted afterwards runs: the dispatcher has planned past the huge one.
    small = cli("task", IMAGE, "--wait", "-c", "echo small")
    assert small.returncode == 0, small.stdout + small.stderr

    status = cli("status", huge)
    assert status.returncode == 0, status.stderr
    assert "queued" in status.stdout
    assert "no registered worker could ever fit" in status.stdout
    assert json.loads(cli("status", huge, "--json").stdout)["pending_reason"]

    cancelled = cli("cancel", huge)
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"{huge} cancelled" in cancelled.stdout
    assert json.loads(cli("status", huge, "--json").stdout)["status"] == "cancelled"
    again = cli("cancel", huge)
    assert again.returncode == 1 and "409 conflict" in again.stderr


def test_cancel_ends_wait_with_130_and_ends_a_follow(cli: Cli) -> None:
    waiter = cli.start("task", IMAGE, "--wait", "--cpu", "512", "--", "echo", "never")
    assert waiter.stderr is not None
    said = ""
    while " queued" not in said:  # said (and flushed) before waiting, after any warning
        said = waiter.stderr.readline()
    task_id = said.split()[0]
    assert task_id.startswith("task-")
    follower = cli.start("logs", "--follow", task_id)
    assert cli("cancel", task_id).returncode == 0

    out, err = waiter.communicate(timeout=120)
    assert waiter.returncode == 130, err
    assert f"{task_id} cancelled" in err and out == ""
    out, err = follower.communicate(timeout=120)
    assert follower.returncode == 0, err
    assert out == ""


def test_follow_prints_every_line_once_and_returns(cli: Cli) -> None:
    submitted = cli("task", IMAGE, "sh", "-c", "echo one; sleep 1; echo two")
    assert submitted.returncode == 0, submitted.stderr
    followed = cli("logs", "-f", submitted.stdout.strip())
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout == "one\ntwo\n"


def test_api_and_connection_errors_are_one_line(cli: Cli) -> None:
    missing = cli("status", "task-0000000000000000")
    assert missing.returncode == 3  # not found
    assert missing.stderr.strip().splitlines() == [
        "error: task task-0000000000000000 not found (404 not_found)"
    ]
    no_prefix = cli("status", "task-nope")  # taken as the beginning of an id
    assert no_prefix.returncode == 3
    assert no_prefix.stderr.strip().splitlines() == [
        "error: task task-nope not found (no task id starts with it)"
    ]
    url = f"http://127.0.0.1:{free_port()}"
    unreachable = cli("list-tasks", url=url)
    assert unreachable.returncode == 5
    assert f"cannot reach the master at {url}" in unreachable.stderr


def test_usage_errors_exit_2(cli: Cli) -> None:
    both = cli("task", IMAGE, "-c", "echo a", "--", "echo", "b")
    assert both.returncode == 2
    assert "not both" in both.stderr


def test_task_takes_scheduling_flags_and_warns_on_stderr(cli: Cli) -> None:
    submitted = cli(
        "task", IMAGE, "--priority", "-2", "--timeout", "60", "--retries", "1",
        "-e", "MODE=fast", "--env", "EMPTY=", "--", "sh", "-c", "echo mode=$MODE",
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    task_id = submitted.stdout.strip()
    assert submitted.stdout == f"{task_id}\n"  # the id alone: warnings go to stderr
    assert "treated as 'cpu-light'" in submitted.stderr
    assert cli("logs", "-f", task_id).stdout == "mode=fast\n"
    shown = json.loads(cli("status", task_id, "--json").stdout)
    assert (shown["priority"], shown["timeout_seconds"], shown["max_retries"]) == (-2, 60, 1)
    assert shown["env"] == {"MODE": "fast", "EMPTY": ""}
    refused = cli("task", IMAGE, "--priority", "5", "--", "true")
    assert refused.returncode != 0 and "only admins" in refused.stderr
    bad = cli("task", IMAGE, "--env", "NOEQUALS", "--", "true")
    assert bad.returncode == 2 and "NAME=VALUE" in bad.stderr


def test_wait_exit_codes_follow_docker_run(cli: Cli) -> None:
    ok = cli("task", IMAGE, "--wait", "-c", "echo out; echo err >&2")
    assert ok.returncode == 0 and "out\n" in ok.stdout and "err\n" in ok.stdout
    assert ok.stdout.count("task-") == 0  # $(cloudai task --wait …) is the output alone
    oom = cli("task", IMAGE, "--wait", "--memory", "16m", "-c", "x=a; while :; do x=$x$x; done")
    assert oom.returncode == 137, oom.stderr
    timed_out = cli("task", IMAGE, "--wait", "--timeout", "1", "-c", "sleep 60")
    assert timed_out.returncode == 124, timed_out.stderr
    never = cli("task", "cloudai-test:no-such-tag", "--wait", "--", "true")
    assert never.returncode == 125, never.stderr


def test_cluster_verbs_and_their_json(cli: Cli, cluster: Cluster) -> None:
    with cluster.client() as anon:
        assert anon.get("/health").status_code == 200
    workers = cli("workers")
    assert workers.returncode == 0, workers.stderr
    listed = json.loads(cli("workers", "--output", "json").stdout)["workers"]
    (worker,) = listed
    assert worker["worker_id"] in workers.stdout and worker["status"] == "active"
    overview = cli("status")
    assert overview.returncode == 0 and "workers:" in overview.stdout
    assert worker["worker_id"] in overview.stdout
    shown = json.loads(cli("status", "--output", "json").stdout)
    assert shown["stats"]["workers"]["active"] == 1
    one = cli("stats", worker["worker_id"])
    assert one.returncode == 0 and "total:" in one.stdout, one.stderr
    assert json.loads(cli("stats", worker["worker_id"], "--output", "json").stdout)["metrics"]
    assert cli("stats", "no-such-worker").returncode == 3
    assert cli("drain", worker["worker_id"]).returncode == 4  # admins only
    empty = cli("queue")
    assert empty.returncode == 0
    assert json.loads(cli("queue", "--output", "json").stdout)["tasks"] == []


def test_queue_events_monitor_dispatch_whoami(cli: Cli, cluster: Cluster) -> None:
    huge = cli("task", IMAGE, "--cpu", "512", "--", "true").stdout.strip()
    queued = json.loads(cli("queue", "--output", "json").stdout)["tasks"]
    assert [t["task_id"] for t in queued] == [huge]
    assert "could ever fit" in cli("queue").stdout
    cli("cancel", huge)
    events = cli("events", huge)
    assert events.returncode == 0 and "cancelled" in events.stdout
    worker_id = json.loads(cli("workers", "--output", "json").stdout)["workers"][0]["worker_id"]
    dispatched = cli("dispatch", worker_id, IMAGE, "sh", "-c", "echo on-$HOSTNAME-ok")
    task_id = dispatched.stdout.strip()
    assert dispatched.returncode == 0 and task_id.startswith("task-"), dispatched.stderr
    followed = cli("monitor", task_id)
    assert followed.returncode == 0 and "-ok" in followed.stdout, followed.stderr
    assert "completed" in followed.stderr
    detail = json.loads(cli("status", task_id, "--output", "json").stdout)
    assert (detail["target_worker_id"], detail["worker_id"]) == (worker_id, worker_id)
    me = cli("whoami")
    assert me.returncode == 0 and f"{USER}@example.test (user)" in me.stdout
