"""Start `cloudai up` as a real process on free loopback ports, and talk to it."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ADMIN_EMAIL = "admin@example.test"
ADMIN_PASSWORD = "admin-password-for-tests"
TERMINAL = {"completed", "failed", "cancelled"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Cluster:
    process: subprocess.Popen[bytes]
    base_url: str
    grpc_port: int
    data_dir: Path
    banner: str
    _drainer: threading.Thread

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def user(self, name: str) -> httpx.Client:
        """Register and log in a user; return a client carrying its token."""
        email = f"{name}@example.test"
        with self.client() as anon:
            created = anon.post(
                "/api/auth/register",
                json={"name": name, "email": email, "password": f"{name}-password"},
            )
            assert created.status_code == 201, created.text
            login = anon.post(
                "/api/auth/login", json={"email": email, "password": f"{name}-password"}
            )
            assert login.status_code == 200, login.text
            body = login.json()
            assert body["token_type"] == "bearer"
        return self.client(body["access_token"])

    def stop(self, timeout: float = 90) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        finally:
            self._drainer.join(timeout=10)  # ends at EOF, once the process has exited
            assert self.process.stdout is not None
            self.process.stdout.close()


def start_up(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> Cluster:
    http_port, grpc_port = free_port(), free_port()
    env = {
        **os.environ,
        **(env or {}),
        "CLOUDAI_ADMIN_EMAIL": ADMIN_EMAIL,
        "CLOUDAI_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable, "-m", "cloudai", "up", "--data-dir", str(data_dir),
        "--http-port", str(http_port), "--grpc-port", str(grpc_port), *args,
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    banner = _read_until(process, "Press Ctrl-C to stop.", timeout)
    # Keep draining: a full pipe would block the cluster's logging.
    drainer = threading.Thread(target=_drain, args=(process,), daemon=True)
    drainer.start()
    return Cluster(process, f"http://127.0.0.1:{http_port}", grpc_port, data_dir, banner, drainer)


def _read_until(process: subprocess.Popen[bytes], marker: str, timeout: float) -> str:
    """Read the child's output until `marker` appears. Raw os.read on the descriptor:
    a buffered readline would hide lines that select() can no longer see."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    seen = b""
    while marker.encode() not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not selector.select(timeout=remaining):
            break
        data = os.read(fd, 65536)
        if not data:
            break
        seen += data
    else:
        return seen.decode()
    process.kill()
    process.wait()
    process.stdout.close()
    raise AssertionError("cloudai up did not come up:\n" + seen.decode(errors="replace"))


def _drain(process: subprocess.Popen[bytes]) -> None:
    assert process.stdout is not None
    while os.read(process.stdout.fileno(), 65536):
        pass


def wait_for(
    client: httpx.Client, task_id: str, statuses: set[str], timeout: float = 120
) -> dict[str, Any]:
    """Block on the server's wait endpoint until the task reaches one of `statuses`."""
    response = client.get(
        f"/api/tasks/{task_id}/wait",
        params={"until": ",".join(sorted(statuses)), "timeout": timeout},
        timeout=timeout + 30,
    )
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    assert task["status"] in statuses, f"task never reached {statuses}: {task}"
    return task


def submit(client: httpx.Client, **fields: Any) -> str:
    body = {"docker_image": "cloudai-test:latest", **fields}
    response = client.post("/api/tasks", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "queued"
    task_id: str = response.json()["task_id"]
    return task_id
