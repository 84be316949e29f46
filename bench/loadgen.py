"""A lean HTTP/1.1 load generator for the benchmarks: persistent connections, one
request at a time on each, nothing else.

httpx costs the benchmark's process ~4 ms of CPU a request (its connection pool checks
every connection for every request; anyio looks its backend up on each call): at a few
hundred submissions a second on this 2-core machine the client, not the master, set
the pace. This speaks only what the master answers (`Content-Length` bodies, keep-alive).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit


class HttpError(Exception):
    pass


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def request(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self._writer.write(head + body)
        status_line = await self._reader.readline()
        if not status_line:
            raise HttpError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    def close(self) -> None:
        self._writer.close()


class LoadClient:
    """POSTs of one JSON body to one path, `connections` at a time."""

    def __init__(self, base_url: str, token: str, connections: int) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._token = token
        self._size = connections
        self._idle: asyncio.Queue[Connection] = asyncio.Queue()
        self._opened: list[Connection] = []

    async def __aenter__(self) -> LoadClient:
        for _ in range(self._size):
            reader, writer = await asyncio.open_connection(self._host, self._port)
            connection = Connection(reader, writer)
            self._opened.append(connection)
            self._idle.put_nowait(connection)
        return self

    async def __aexit__(self, *_: object) -> None:
        for connection in self._opened:
            connection.close()

    def post_head(self, path: str, body: bytes) -> bytes:
        return (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Authorization: Bearer {self._token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()

    async def post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        connection = await self._idle.get()
        try:
            status, answer = await connection.request(self.post_head(path, body), body)
        finally:
            self._idle.put_nowait(connection)
        if status >= 400:
            raise HttpError(f"POST {path}: {status} {answer[:200]!r}")
        found: dict[str, Any] = json.loads(answer)
        return found
