"""A stand-in master for CLI tests: a local HTTP server that answers what a test sets
per (method, path) and records every request (path, query, body, Authorization)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str


@dataclass
class FakeMaster:
    url: str = ""
    answers: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def answer(self, method: str, path: str, body: Any, status: int = 200) -> None:
        self.answers[(method, path)] = (status, body)

    def asked(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if (r.method, r.path) == (method, path)]


def _handler(master: FakeMaster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            master.requests.append(Request(
                self.command, parts.path,
                {k: v[0] for k, v in parse_qs(parts.query).items()},
                json.loads(raw) if raw else None, self.headers.get("authorization") or "",
            ))  # fmt: skip
            status, body = master.answers.get(
                (self.command, parts.path),
                (404, {"error": "not_found", "detail": f"no {parts.path}"}),
            )
            raw_bytes = isinstance(body, bytes)  # a file's bytes, as they are
            data = body if raw_bytes else b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/octet-stream" if raw_bytes
                             else "application/json")  # fmt: skip
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running() -> Iterator[FakeMaster]:
    master = FakeMaster()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(master))
    master.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield master
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
