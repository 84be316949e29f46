"""A private Docker registry for tests: Debian's `docker-registry` (distribution v2),
started per test session on a free loopback port with its own storage and config.

dockerd treats 127.0.0.0/8 registries as insecure, so plain HTTP works without any
daemon configuration. `StallingProxy` sits in front of one and holds every blob
download until released: a pull that starts, then hangs.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import io
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from docker.errors import ImageNotFound, NotFound

REGISTRY_BIN = Path("/usr/bin/docker-registry")  # scripts/install-deps.sh registry
BASE_IMAGE = "cloudai-test:latest"
USERNAME = "cloudai-test"
PASSWORD = "registry-password-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Registry:
    process: subprocess.Popen[bytes]
    port: int
    root: Path
    auth: dict[str, str] | None  # what a pull or push needs, None without auth
    pushed: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def push(self, client: Any, *, unique_layer: bool = False) -> str:
        """Push the test image as a new tag here and drop it locally; returns the
        reference. `unique_layer`: with a layer of its own, so that a pull downloads it."""
        ref = f"{self.host}/cloudai-test:{uuid.uuid4().hex[:12]}"
        if unique_layer:
            dockerfile = f"FROM {BASE_IMAGE}\nRUN head -c 300000 /dev/urandom > /blob\n"
            client.images.build(
                fileobj=io.BytesIO(dockerfile.encode()), tag=ref, rm=True, network_mode="none"
            )
        else:
            client.images.get(BASE_IMAGE).tag(ref)
        self.pushed.append(ref)
        for event in client.api.push(ref, stream=True, decode=True, auth_config=self.auth):
            if "error" in event:
                raise RuntimeError(f"push of {ref} failed: {event['error']}")
        remove_image(client, ref)
        return ref

    def stop(self, client: Any) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for ref in self.pushed:
            remove_image(client, ref)
        shutil.rmtree(self.root, ignore_errors=True)


def remove_image(client: Any, ref: str) -> None:
    with contextlib.suppress(ImageNotFound, NotFound):  # never pulled, or already gone
        client.images.remove(ref, force=True)


def start_registry(root: Path, *, with_auth: bool) -> Registry:
    if not REGISTRY_BIN.exists():
        raise RuntimeError(f"{REGISTRY_BIN} is missing: run scripts/install-deps.sh registry")
    port = free_port()
    (root / "storage").mkdir(parents=True)
    auth_section = ""
    if with_auth:
        import bcrypt  # only the tests need it (the [dev] extra)

        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
        (root / "htpasswd").write_text(f"{USERNAME}:{hashed}\n")
        auth_section = f"auth:\n  htpasswd:\n    realm: cloudai-test\n    path: {root}/htpasswd\n"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root}/storage\n  delete:\n"
        "    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: {uuid.uuid4().hex}\n{auth_section}"
    )
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen([str(REGISTRY_BIN), "serve", str(config)], stdout=log, stderr=log)
    log.close()
    auth = {"username": USERNAME, "password": PASSWORD} if with_auth else None
    registry = Registry(process, port, root, auth)
    _wait_until_serving(registry)
    return registry


def _wait_until_serving(registry: Registry, timeout_s: float = 20) -> None:
    """Another process: polling its port under a deadline is the only signal there is."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if registry.process.poll() is not None:
            break
        try:
            answer = httpx.get(f"http://{registry.host}/v2/", timeout=1)
            if answer.status_code in (200, 401):
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.05)
    log = (registry.root / "registry.log").read_text(errors="replace")
    registry.process.kill()
    raise RuntimeError(f"docker-registry did not start:\n{log}")


class StallingProxy:
    """An HTTP proxy to a registry that holds every blob download until `release()`."""

    def __init__(self, upstream_port: int) -> None:
        self.released = threading.Event()
        self.stalled = threading.Event()  # set once a blob download is being held
        handler = _handler(upstream_port, self)
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def release(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (dockerd cancelled the pull) is expected here."""


def _handler(upstream_port: int, proxy: StallingProxy) -> type[http.server.BaseHTTPRequestHandler]:
    class Forward(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def forward(self) -> None:
            if self.command == "GET" and "/blobs/" in self.path:
                proxy.stalled.set()
                proxy.released.wait()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
            skip = {"host", "connection"}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            upstream.close()

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward

    return Forward


@contextlib.contextmanager
def stalling_proxy(registry: Registry) -> Iterator[StallingProxy]:
    proxy = StallingProxy(registry.port)
    try:
        yield proxy
    finally:
        proxy.release()
