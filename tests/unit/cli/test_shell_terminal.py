"""`cloudai shell` in a real pseudo-terminal (pexpect), against a stub master: the prompt,
TAB, Ctrl-C at the prompt and during a command, Ctrl-D. The end-to-end version against a
real cluster is tests/e2e/test_shell.py."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pexpect
import pytest

PROMPT = "cloudai>"  # prompt_toolkit draws the space after it as a cursor move


class _Master(BaseHTTPRequestHandler):
    """Just enough of the REST API: a task that runs forever, and who the token is."""

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        body: dict[str, Any]
        if path == "/api/auth/me":
            body = {"email": "pty@example.test", "role": "user"}
        elif path == "/api/tasks":
            body = {"tasks": [{"task_id": "task-5eed", "status": "running"}]}
        elif path.endswith("/logs"):
            offset = int(self.path.rsplit("offset=", 1)[-1]) if "offset=" in self.path else 0
            text = "forever-1\n"[offset:]
            body = {"logs": text, "next_offset": 10, "complete": False, "status": "running"}
        elif path.endswith("/wait"):
            time.sleep(0.3)  # the task goes on running
            body = {"task_id": "task-5eed", "status": "running"}
        else:
            body = {"workers": []}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def master() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Master)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def spawn(tmp_path: Path, *args: str, **env: str) -> pexpect.spawn:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDAI_")}
    clean |= {"CLOUDAI_CONFIG_DIR": str(tmp_path / "config"), "TERM": "xterm",
              "PROMPT_TOOLKIT_NO_CPR": "1", **env}  # fmt: skip
    child = pexpect.spawn(sys.executable, ["-m", "cloudai", *args], env=clean,
                          encoding="utf-8", dimensions=(40, 160), timeout=30)  # fmt: skip
    return child


def leave(child: pexpect.spawn, how: str = "exit") -> int:
    if how == "exit":
        child.sendline("exit")
    else:
        child.sendeof()  # Ctrl-D
    child.expect(pexpect.EOF)
    child.close()
    status: int = child.exitstatus
    return status


def test_cloudai_alone_in_a_terminal_is_the_shell(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    child.expect("not logged in")  # the banner
    child.expect(PROMPT)
    child.sendline("version")
    child.expect("0.1.0")
    child.expect(PROMPT)
    child.sendline("up")
    child.expect("runs a long-lived process")
    child.expect(PROMPT)
    child.send("wor")
    child.send("\t")
    child.expect("kers")  # completed to `workers`
    child.send("\r")
    child.expect("not logged in")  # `workers` ran: it needs a login
    child.expect(PROMPT)
    child.send("status --wat")
    child.sendintr()  # Ctrl-C at the prompt drops the line
    child.expect(PROMPT)
    child.sendline("versoin")
    child.expect("Did you mean 'version'")
    child.expect(PROMPT)
    assert leave(child, "eof") == 0
    history = (tmp_path / "config" / "shell-history").read_text()
    assert "+workers" in history and "status --wat" not in history


def test_ctrl_c_stops_a_follow_and_the_shell_goes_on(tmp_path: Path, master: str) -> None:
    child = spawn(tmp_path, "shell", CLOUDAI_URL=master, CLOUDAI_TOKEN="tok")
    child.expect(f"on {master}")
    child.expect(PROMPT)
    child.send("logs -f task-5")
    child.send("\t")
    child.expect("eed")  # the id, completed from GET /api/tasks
    child.send("\r")
    child.expect("forever-1")  # following: the stub's task never ends
    child.sendintr()
    child.expect(PROMPT)
    child.sendline("whoami")
    child.expect("pty@example.test")
    child.expect(PROMPT)
    assert leave(child) == 0
