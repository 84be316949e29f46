"""Start `cloudai` processes (`up`, `master`, `worker`) on free loopback ports, follow
what they print, and talk to them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
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


class Daemon:
    """A `cloudai` process whose output (stdout and stderr together) is read as it comes,
    so a test can wait for a line instead of sleeping, and read everything afterwards."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cloudai", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self._seen = b""
        self._changed = threading.Condition()
        # Always drain: a full pipe would block the process's logging.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while data := os.read(fd, 65536):
            with self._changed:
                self._seen += data
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return self._seen.decode(errors="replace")

    def wait_for_output(self, marker: str, timeout: float = 90) -> str:
        """Everything printed up to and including `marker`; fails (and kills the process)
        when the marker does not come in time or the process ends without it."""
        needle = marker.encode()
        with self._changed:
            ok = self._changed.wait_for(
                lambda: needle in self._seen or not self._reader.is_alive(), timeout
            )
            seen = self._seen
        if ok and needle in seen:
            return seen[: seen.index(needle) + len(needle)].decode(errors="replace")
        self.kill()
        raise AssertionError(f"no {marker!r} in the output of cloudai:\n{self.output}")

    def send(self, sig: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def wait(self, timeout: float = 90) -> int:
        """The exit status; the output has been read to its end."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._reader.join(timeout=10)  # ends at EOF, once the process has exited
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 90) -> int:
        self.send(sig)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@dataclass
class Cluster:
    daemon: Daemon
    base_url: str
    grpc_port: int
    data_dir: Path
    banner: str

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.daemon.process

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
        return self.login(email, f"{name}-password")

    def login(self, email: str, password: str) -> httpx.Client:
        with self.client() as anon:
            login = anon.post("/api/auth/login", json={"email": email, "password": password})
            assert login.status_code == 200, login.text
            body = login.json()
            assert body["token_type"] == "bearer"
        return self.client(body["access_token"])

    @property
    def cluster_id(self) -> str:
        return (self.data_dir / "cluster-id").read_text().strip()

    def containers(self) -> list[str]:
        """Names of this cluster's containers, and only this cluster's: someone else's
        CloudAI may share the daemon."""
        listed = subprocess.run(
            ["docker", "ps", "-a", "--format", "{{.Names}}",
             "--filter", f"label=cloudai.cluster_id={self.cluster_id}"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return listed.stdout.split()

    def login_admin(self) -> httpx.Client:
        return self.login(ADMIN_EMAIL, ADMIN_PASSWORD)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 90) -> int:
        return self.daemon.stop(sig, timeout)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without CLOUDAI_ variables (a developer's own must not leak into a
    test), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDAI_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def start_up(
    data_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 90,
    admin_password: str | None = ADMIN_PASSWORD,
) -> Cluster:
    """`cloudai up` on free ports; `admin_password=None` lets it generate one."""
    http_port, grpc_port = free_port(), free_port()
    secrets = {"CLOUDAI_ADMIN_PASSWORD": admin_password} if admin_password else {}
    daemon = Daemon(
        [
            "up", "--data-dir", str(data_dir), "--http-port", str(http_port),
            "--grpc-port", str(grpc_port), *args,
        ],
        clean_env(CLOUDAI_ADMIN_EMAIL=ADMIN_EMAIL, **secrets, **(env or {})),
    )  # fmt: skip
    banner = daemon.wait_for_output("Press Ctrl-C to stop.", timeout)
    return Cluster(daemon, f"http://127.0.0.1:{http_port}", grpc_port, data_dir, banner)


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
