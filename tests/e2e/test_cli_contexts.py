"""The CLI's logins, tokens, files and short ids as real processes against a real
`cloudai up`: named contexts (and an old single-login file), `tokens create|list|revoke`
used through CLOUDAI_TOKEN, `files [USER_ID]`, and id prefixes in the verbs that take
an id; `status --watch` and `monitor` left with `q` or Ctrl-C in a pseudo-terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

from tests.e2e.cluster import ADMIN_EMAIL, ADMIN_PASSWORD, Cluster, start_up

pytestmark = pytest.mark.docker

IMAGE = "cloudai-test:latest"
ADA, BOB = "ctxada", "ctxbob"


@dataclass
class Cli:
    """`cloudai` with its own config directory and no CLOUDAI_ variable but `extra`."""

    config_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDAI_")}
        return env | {"CLOUDAI_CONFIG_DIR": str(self.config_dir), **extra}

    def __call__(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cloudai", *args], env=self.env(**extra),
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def ok(self, *args: str, **extra: str) -> str:
        done = self(*args, **extra)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def login(self, url: str, name: str, *extra: str) -> str:
        return self.ok("login", url, "--email", f"{name}@example.test",
                       "--password", f"{name}-password", *extra)  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_up(tmp_path_factory.mktemp("up"), "--workers", "1", "--executor", "docker")
    for name in (ADA, BOB):
        running.user(name).close()  # registers the account over HTTP
    yield running
    assert running.stop() == 0


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "config")


def test_named_contexts(cli: Cli, cluster: Cluster) -> None:
    url = cluster.base_url
    said = cli.login(url, ADA, "--context", "ada")
    assert "context ada (current)" in said
    cli.login(url, BOB, "--context", "bob")
    assert f"{BOB}@example.test (user) on {url} (context bob)" in cli.ok("whoami")
    assert f"{ADA}@example.test" in cli.ok("--context", "ada", "whoami")
    assert f"{ADA}@example.test" in cli.ok("whoami", CLOUDAI_CONTEXT="ada")
    listed = json.loads(cli.ok("context", "list", "--output", "json"))
    assert listed["current"] == "bob"
    assert [(c["name"], c["user"]) for c in listed["contexts"]] == [
        ("ada", f"{ADA}@example.test"), ("bob", f"{BOB}@example.test"),
    ]  # fmt: skip
    cli.ok("context", "use", "ada")
    assert f"{ADA}@example.test" in cli.ok("whoami")
    cli.ok("logout")
    assert cli("whoami").returncode == 4
    assert f"{BOB}@example.test" in cli.ok("--context", "bob", "whoami")
    assert cli("context", "use", "nope").returncode == 3
    cli.ok("context", "remove", "ada")
    assert cli("whoami").returncode == 4  # no current context
    assert cli("whoami", CLOUDAI_URL=url).returncode == 4


def test_an_old_credentials_file_keeps_working(cli: Cli, cluster: Cluster) -> None:
    with cluster.login(f"{ADA}@example.test", f"{ADA}-password") as client:
        token = str(client.headers["Authorization"]).removeprefix("Bearer ")
    cli.config_dir.mkdir(parents=True, mode=0o700)
    old = cli.config_dir / "credentials.json"
    old.write_text(json.dumps({"url": cluster.base_url, "access_token": token}))
    old.chmod(0o600)
    assert f"{ADA}@example.test" in cli.ok("whoami")
    cli.login(cluster.base_url, BOB, "--context", "bob")
    name = cluster.base_url.removeprefix("http://")
    assert f"{ADA}@example.test" in cli.ok("--context", name, "whoami")
    assert json.loads(old.read_text())["contexts"][name]["access_token"] == token


def test_api_tokens(cli: Cli, cluster: Cluster) -> None:
    cli.login(cluster.base_url, ADA)
    made = cli("tokens", "create", "ci", "--expires", "7d")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert made.stdout == f"{token}\n" and token.startswith("cai_")
    with_token = {"CLOUDAI_URL": cluster.base_url, "CLOUDAI_TOKEN": token}
    assert f"{ADA}@example.test" in cli.ok("whoami", **with_token)
    assert cli("tokens", "create", "more", **with_token).returncode == 4  # a token mints none
    (listed,) = json.loads(cli.ok("tokens", "list", "--output", "json"))["tokens"]
    assert listed["name"] == "ci" and listed["expires_at"] and "token" not in listed
    assert listed["token_id"] in cli.ok("tokens", "list")
    assert cli.ok("tokens", "revoke", listed["token_id"][:8]) == f"revoked {listed['token_id']}\n"
    assert cli("whoami", **with_token).returncode == 4
    assert cli("tokens", "revoke", "tok-nothing").returncode == 3


def test_files_and_short_ids(cli: Cli, cluster: Cluster, tmp_path: Path) -> None:
    cli.login(cluster.base_url, ADA)
    first = cli.ok("task", IMAGE, "--wait", "-c", "echo one; echo 1 > /output/one.txt")
    assert first == "one\n"
    task_id = json.loads(cli.ok("list-tasks", "--output", "json"))["tasks"][0]["task_id"]
    cli.ok("task", IMAGE, "--wait", "-c", "echo two")
    short = task_id[:11]  # `task-` and six hex digits: unique among two

    assert json.loads(cli.ok("status", short, "--output", "json"))["task_id"] == task_id
    assert cli.ok("logs", short) == "one\n"
    assert "one.txt" in cli.ok("task-files", short)
    assert "completed" in cli.ok("events", short)
    cli.ok("download", short, "one.txt", "-o", str(tmp_path))
    assert (tmp_path / "one.txt").read_text() == "1\n"
    ambiguous = cli("status", "task-")
    assert ambiguous.returncode == 2 and task_id in ambiguous.stderr
    assert cli("logs", "task-zzzz").returncode == 3

    stored = json.loads(cli.ok("files", "--output", "json"))["tasks"]
    assert [t["task_id"] for t in stored] == [task_id]  # the task without outputs is not
    assert task_id in cli.ok("files")
    admin = Cli(tmp_path / "admin")
    admin.ok("login", cluster.base_url, "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    with cluster.login(f"{ADA}@example.test", f"{ADA}-password") as client:
        user_id = client.get("/api/auth/me").json()["user_id"]
    assert cli("files", "u-someone-else").returncode == 4  # users see their own only
    by_admin = json.loads(admin.ok("files", user_id, "--output", "json"))["tasks"]
    assert [t["task_id"] for t in by_admin] == [task_id]

    worker_id = json.loads(cli.ok("workers", "--output", "json"))["workers"][0]["worker_id"]
    assert "total:" in cli.ok("stats", worker_id[:-1])


def _pty(cli: Cli, script: str) -> pexpect.spawn:
    env = cli.env(TERM="xterm", PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin")
    return pexpect.spawn(  # bash: it goes on after a child that handled Ctrl-C itself
        "/bin/bash", ["-c", script], env=env, encoding="utf-8", dimensions=(50, 200),
        timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(("leave", "status"), [("q", 0), ("ctrl-c", 130)])
def test_status_watch_is_left_with_q_or_ctrl_c(
    cli: Cli, cluster: Cluster, leave: str, status: int
) -> None:
    cli.login(cluster.base_url, ADA)
    child = _pty(cli, "cloudai status --watch --interval 0.2; echo rc=$?; stty -a")
    child.expect("workers: +active 1")
    child.expect("capacity:")  # redrawn
    child.expect("capacity:")
    if leave == "q":
        child.send("q")
    else:
        child.sendintr()
    child.expect(r"rc=(\d+)")
    assert int(child.match.group(1)) == status
    child.expect(pexpect.EOF)
    assert {"icanon", "echo"} <= set(child.before.split())  # the terminal as it was


def test_monitor_is_left_with_q_and_the_task_goes_on(cli: Cli, cluster: Cluster) -> None:
    cli.login(cluster.base_url, ADA)
    task_id = cli.ok("task", IMAGE, "-c", "echo started; sleep 300").strip()
    child = _pty(cli, f"cloudai monitor {task_id[:12]}; echo rc=$?")
    child.expect("started")  # the live log
    child.send("q")
    child.expect(f"stopped monitoring; {task_id} goes on")
    child.expect(r"rc=(\d+)")
    assert child.match.group(1) == "0"
    child.expect(pexpect.EOF)
    assert json.loads(cli.ok("status", task_id, "--output", "json"))["status"] == "running"
    assert f"{task_id} cancelled" in cli.ok("cancel", task_id[:12])


def test_q_in_the_shell_leaves_the_view_not_the_shell(cli: Cli, cluster: Cluster) -> None:
    cli.login(cluster.base_url, ADA, "--context", "ada")
    child = _pty(cli, "PROMPT_TOOLKIT_NO_CPR=1 cloudai shell; echo rc=$?")
    child.expect("(context ada)")  # the banner names the context
    child.expect("cloudai>")
    child.sendline("status --watch --interval 0.2")
    child.expect("capacity:")
    child.send("q")
    child.expect("cloudai>")
    child.sendline("whoami")
    child.expect(f"{ADA}@example.test")
    child.expect("cloudai>")
    child.sendline("exit")
    child.expect(r"rc=(\d+)")
    assert child.match.group(1) == "0"
