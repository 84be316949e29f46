"""`q` leaves a live view, Ctrl-C interrupts it, and either way the terminal's mode is
as it was: run in a real pseudo-terminal (pexpect). The views themselves are drawn from
a stand-in master (a local HTTP server answering the two routes `status` reads)."""

from __future__ import annotations

import hashlib
import io
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from cloudai.cli import keys
from tests.unit.cli.fake_master import FakeMaster, running

PROBE = textwrap.dedent("""
    import socket, termios, sys
    from cloudai.cli import keys
    before = termios.tcgetattr(0)
    a, b = socket.socketpair()
    try:
        with keys.quit_on_q() as pressed:
            print("echo off" if not termios.tcgetattr(0)[3] & termios.ECHO else "echo on",
                  flush=True)
            a.recv(1)  # blocks until q (or Ctrl-C)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    print("quit" if pressed.quit else "ended", flush=True)
    print("restored" if termios.tcgetattr(0) == before else "changed", flush=True)
""")

STATS = {
    "resources": {"allocated": {"cpu": 1, "memory": 0.5, "gpu": 0},
                  "total": {"cpu": 4, "memory": 8, "gpu": 0}},
    "tasks": {"running": 1}, "workers": {"active": 1}, "queue_depth": 0,
    "sla": {"by_type": {}},
}  # fmt: skip


def _spawn(args: list[str], env: dict[str, str] | None = None) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable, args, env={**os.environ, "TERM": "xterm", **(env or {})},
        encoding="utf-8", dimensions=(40, 160), timeout=30,
    )  # fmt: skip


def test_q_ends_a_blocking_call_and_restores_the_terminal() -> None:
    child = _spawn(["-c", PROBE])
    child.expect("echo off")  # cbreak: keys are read, not echoed
    child.send("q")
    child.expect("quit")
    child.expect("restored")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_other_keys_do_nothing_and_ctrl_c_still_interrupts() -> None:
    child = _spawn(["-c", PROBE])
    child.expect("echo off")
    child.send("x")
    child.sendintr()
    child.expect("interrupted")
    child.expect("ended")
    child.expect("restored")
    child.expect(pexpect.EOF)


def test_without_a_terminal_nothing_is_read() -> None:
    with keys.quit_on_q() as pressed:  # pytest's stdin is not a terminal
        pass
    assert pressed.quit is False


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    with running() as fake:
        fake.answer("GET", "/api/stats", STATS)
        fake.answer("GET", "/api/workers", {"workers": []})
        yield fake


@pytest.mark.parametrize(("leave", "status"), [("q", 0), ("ctrl-c", 130)])
def test_status_watch_leaves_on_q_or_ctrl_c_with_a_clean_terminal(
    master: FakeMaster, tmp_path: Path, leave: str, status: int
) -> None:
    script = f"{sys.executable} -m cloudai status --watch --interval 0.2; echo rc=$?; stty -a"
    env = {"CLOUDAI_URL": master.url, "CLOUDAI_TOKEN": "t", "CLOUDAI_CONFIG_DIR": str(tmp_path)}
    child = pexpect.spawn(  # bash: it goes on after a child that handled Ctrl-C itself
        "/bin/bash", ["-c", script], env={**os.environ, "TERM": "xterm", **env},
        encoding="utf-8", dimensions=(40, 160), timeout=30,
    )  # fmt: skip
    seen = io.StringIO()
    child.logfile_read = seen
    child.expect("tasks: +running 1")
    child.expect("tasks: +running 1")  # drawn again: it refreshes
    if leave == "q":
        child.send("q")
    else:
        child.sendintr()
    child.expect(r"rc=(\d+)")
    assert int(child.match.group(1)) == status
    child.expect(pexpect.EOF)
    settings = child.before.split()
    assert "icanon" in settings and "echo" in settings  # not -icanon / -echo
    drawn = seen.getvalue()
    assert drawn.rindex("\x1b[?25h") > drawn.rindex("\x1b[?25l")  # the cursor is back


def test_a_download_shows_a_progress_bar_on_a_terminal(master: FakeMaster, tmp_path: Path) -> None:
    data = b"x" * (3 * 1024 * 1024)
    task_id = "task-0123456789abcdef"
    master.answer("GET", f"/api/files/{task_id}", {"task_id": task_id, "total_size": len(data),
        "files": [{"path": "big.bin", "size": len(data),
                   "sha256": hashlib.sha256(data).hexdigest()}]})  # fmt: skip
    master.answer("GET", f"/api/files/{task_id}/download/big.bin", data)
    env = {"CLOUDAI_URL": master.url, "CLOUDAI_TOKEN": "t", "CLOUDAI_CONFIG_DIR": str(tmp_path)}
    child = _spawn(["-m", "cloudai", "download", task_id, "big.bin", "-o", str(tmp_path)], env)
    child.expect(r"big\.bin.*MB")  # the bar: name, bytes done of the total
    child.expect("wrote ")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert (tmp_path / "big.bin").read_bytes() == data
