"""Caps on what a request may carry: a JSON API has no business receiving megabytes,
and no number in a query string may reach the store or a file seek unbounded."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Query
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024

# SQLite's INTEGER and the gRPC log offset are signed 64-bit; 2**62 stays well inside
# both, and no log or task list comes near it.
MAX_OFFSET = 2**62
MAX_PAGE = 500
MAX_LOG_READ = 4 * 1024 * 1024
MAX_WAIT_S = 300.0

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE)]
LogReadSize = Annotated[int, Query(ge=1, le=MAX_LOG_READ)]
WaitSeconds = Annotated[float, Query(gt=0, le=MAX_WAIT_S, allow_inf_nan=False)]


class BodyLimitMiddleware:
    """Reads the whole body (at most `max_bytes`) before the app runs, so an oversized
    one answers 413 whether it declared its length or came chunked: the app never
    sees a truncated body (FastAPI would turn that into a 400)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max:
            await _reject(send, self._max)
            return
        messages = await _read_body(receive, self._max)
        if messages is None:
            await _reject(send, self._max)
            return
        await self._app(scope, _replay(messages, receive), send)


async def _read_body(receive: Receive, limit: int) -> list[Message] | None:
    """The request's body messages, or None once they pass `limit` bytes."""
    messages: list[Message] = []
    seen = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":  # the client went away: pass that on
            return messages
        seen += len(message.get("body", b""))
        if seen > limit:
            return None
        if not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """The buffered messages, then the real channel (which reports a disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _reject(send: Send, limit: int) -> None:
    text = f"request body exceeds {limit} bytes"
    body = json.dumps({"error": "payload_too_large", "detail": text, "message": text}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is never read: the connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
