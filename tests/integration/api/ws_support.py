"""WebSocket test steps: the in-process app on a real loopback port (uvicorn in the
test's own event loop), a client, and reading a stream to its close."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # signals stay pytest's


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[int]:
    """Serve `app` on a free loopback port until the block ends; yields the port."""
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    config.load()
    server = _QuietServer(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])  # listening once this returns
    try:
        yield sock.getsockname()[1]
    finally:
        await server.shutdown(sockets=[sock])


@dataclass
class Closed:
    messages: list[dict[str, Any]]  # what came before the close
    code: int | None
    reason: str


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@contextlib.asynccontextmanager
async def ws(
    port: int, path: str, token: str | None = None, **options: Any
) -> AsyncIterator[ClientConnection]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(options.pop("headers", {}))
    async with connect(
        f"ws://127.0.0.1:{port}{path}", additional_headers=headers, open_timeout=10, **options
    ) as client:
        yield client


async def receive(client: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await client.recv())
    return message


async def until_closed(client: ClientConnection) -> Closed:
    """Every message up to the server's close, and the close's code and reason."""
    messages = []
    try:
        while True:
            messages.append(json.loads(await client.recv()))
    except ConnectionClosed as closed:
        frame = closed.rcvd
        return Closed(messages, frame.code if frame else None, frame.reason if frame else "")
