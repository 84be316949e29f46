"""`cloudai shell` in a real pseudo-terminal (pexpect) against a real `cloudai up`: the
verbs, TAB completion of commands and of ids from the master, Ctrl-C that stops a
`logs -f` but not the shell, and `exit`. Every wait is an `expect` with a timeout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.e2e.cluster import Cluster, start_up

pytestmark = pytest.mark.docker

IMAGE = "cloudai-test:latest"
USER = "shella"
PROMPT = "cloudai>"  # prompt_toolkit draws the space after it as a cursor move
TASK_ID = re.compile(r"task-[0-9a-f]{16}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_up(tmp_path_factory.mktemp("up"), "--workers", "1", "--executor", "docker")
    yield running
    assert running.stop() == 0


def _env(config_dir: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDAI_")}
    return env | {"CLOUDAI_CONFIG_DIR": str(config_dir), "CLOUDAI_URL": url, "TERM": "xterm",
                  "PROMPT_TOOLKIT_NO_CPR": "1"}  # fmt: skip


@pytest.fixture(scope="module")
def config_dir(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cluster.user(USER).close()  # registers the account over HTTP
    directory = tmp_path_factory.mktemp("home") / "config" / "cloudai"
    login = subprocess.run(
        [sys.executable, "-m", "cloudai", "login", "--email", f"{USER}@example.test",
         "--password", f"{USER}-password"],
        env=_env(directory, cluster.base_url), capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    return directory


@pytest.fixture
def shell(config_dir: Path, cluster: Cluster) -> Iterator[pexpect.spawn]:
    child = pexpect.spawn(
        sys.executable, ["-m", "cloudai", "shell"], env=_env(config_dir, cluster.base_url),
        encoding="utf-8", dimensions=(50, 220), timeout=60,
    )  # fmt: skip
    child.expect(f"on {cluster.base_url}")  # the banner names the master
    child.expect(PROMPT)
    yield child
    if child.isalive():
        child.terminate(force=True)


def _worker_id(cluster: Cluster) -> str:
    with cluster.login(f"{USER}@example.test", f"{USER}-password") as client:
        worker_id: str = client.get("/api/workers").json()["workers"][0]["worker_id"]
    return worker_id


def _exit(child: pexpect.spawn) -> int:
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    status: int = child.exitstatus
    return status


def test_verbs_and_completion(shell: pexpect.spawn, cluster: Cluster) -> None:
    worker_id = _worker_id(cluster)
    shell.send("wor")
    shell.send("\t")
    shell.expect("kers")  # `wor` TAB is `workers` (`worker`, a daemon, is not offered)
    shell.send("\r")
    shell.expect(re.escape(worker_id))
    shell.expect(PROMPT)
    shell.sendline("workers")
    shell.expect(re.escape(worker_id))
    shell.expect(PROMPT)
    shell.sendline("worker --master x")
    shell.expect("runs a long-lived process")
    shell.expect(PROMPT)
    shell.sendline("statsu")
    shell.expect(r"Did you mean 'stats' or 'status'\?")
    shell.expect(PROMPT)
    assert _exit(shell) == 0


def test_ctrl_c_stops_a_follow_and_the_shell_goes_on(shell: pexpect.spawn) -> None:
    shell.sendline(f"task {IMAGE} sh -c 'echo $((6*7))-ready; sleep 300'")
    shell.expect(TASK_ID)
    task_id = shell.after
    shell.expect(PROMPT)
    shell.sendline(f"logs -f {task_id}")
    shell.expect("42-ready")  # following the running task's log
    shell.sendintr()  # Ctrl-C
    shell.expect(PROMPT)
    shell.sendline("whoami")
    shell.expect(f"{USER}@example.test")
    shell.expect(PROMPT)
    shell.send(f"cancel {task_id[:9]}")
    shell.send("\t")
    shell.expect(task_id[9:])  # the id, completed from the master's list
    shell.send("\r")
    shell.expect(f"{task_id} cancelled")
    shell.expect(PROMPT)
    assert _exit(shell) == 0
