"""One WebSocket connection: admit it, run its stream, end it with a close code that
says why.

The handshake is accepted first and then, when the caller may not have the stream,
closed with 1008 and the reason (a refused handshake would reach a browser as a bare
failure). While the stream runs, the client is read concurrently: its messages are
ignored, its leaving cancels the stream. Sending is bounded: a send that cannot get
into the connection's (bounded) write buffer within `send_timeout_s` means the client
stopped reading, and it is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from cloudai.api.ws_auth import check_origin, websocket_user
from cloudai.domain.errors import CloudAIError, Unavailable
from cloudai.domain.users import User
from cloudai.master.bus import Closed, Dropped
from cloudai.master.core import Services

logger = logging.getLogger(__name__)

NORMAL = 1000
INTERNAL = 1011
POLICY = 1008  # not allowed: no or a bad credential, a foreign Origin, not your task
RESTART = 1012  # the master is stopping
TRY_AGAIN = 1013  # fell behind, or the master has too many streams open
SEND_TIMEOUT_S = 30.0
_CLOSE_TIMEOUT_S = 5.0
_MAX_REASON_BYTES = 123  # what a close frame can carry
_GONE = (WebSocketDisconnect, OSError)  # what a send to a socket the client closed raises
_CLOSED = (*_GONE, RuntimeError)  # ... and one to a socket we closed


class SlowClient(Exception):
    """The client stopped reading."""


@dataclass(frozen=True, slots=True)
class Channel:
    websocket: WebSocket
    user: User
    services: Services
    send_timeout_s: float = SEND_TIMEOUT_S

    def query(self, name: str) -> str | None:
        return self.websocket.query_params.get(name)

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message; SlowClient when it does not go out in time."""
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        try:
            async with asyncio.timeout(self.send_timeout_s):
                await self.websocket.send_text(text)
        except TimeoutError as exc:
            raise SlowClient(f"no send for {self.send_timeout_s:g} s") from exc


Stream = Callable[[Channel], Coroutine[Any, Any, None]]


async def serve(websocket: WebSocket, stream: Stream) -> None:
    """Admit the connection, run `stream` on it until it ends or the client leaves,
    then close with the code its outcome calls for."""
    await websocket.accept()
    services: Services = websocket.app.state.services
    try:
        check_origin(websocket, getattr(websocket.app.state, "cors_origins", ()))
        user = await websocket_user(websocket, services)
    except CloudAIError as exc:
        await _close(websocket, POLICY, str(exc))
        return
    outcome = await _run(Channel(websocket, user, services), stream)
    if outcome is not None:
        await _close(websocket, *outcome)


async def _run(channel: Channel, stream: Stream) -> tuple[int, str] | None:
    """Run the stream against the client's leaving; the close code and reason, or None
    when the client is gone (nothing left to close)."""
    reader = asyncio.create_task(_until_gone(channel.websocket))
    work = asyncio.create_task(stream(channel))
    try:
        done, _ = await asyncio.wait((reader, work), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reader, work):
            await _cancel(task)
    if reader in done or work.cancelled():
        return None
    return await _outcome(channel, work.exception())


async def _outcome(channel: Channel, exc: BaseException | None) -> tuple[int, str] | None:
    if exc is None:
        return NORMAL, ""
    if isinstance(exc, Dropped):  # the stream has a gap: say so, the client resumes
        with contextlib.suppress(SlowClient, *_CLOSED):
            await channel.send({"type": "error", "error": "too slow: fell behind the events"})
        return TRY_AGAIN, "fell behind"
    if isinstance(exc, Closed):
        return RESTART, str(exc)
    if isinstance(exc, SlowClient):
        return TRY_AGAIN, "not reading"
    if isinstance(exc, Unavailable):
        return TRY_AGAIN, str(exc)
    if isinstance(exc, CloudAIError):  # not found (or not yours), a bad parameter
        return POLICY, str(exc)
    if isinstance(exc, _GONE):
        return None
    logger.error("WebSocket stream failed", exc_info=exc)
    with contextlib.suppress(SlowClient, *_CLOSED):
        await channel.send({"type": "error", "error": "internal error"})
    return INTERNAL, "internal error"


async def _until_gone(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it leaves."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _cancel(task: asyncio.Task[None]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    reason = reason.encode()[:_MAX_REASON_BYTES].decode(errors="ignore")
    with contextlib.suppress(TimeoutError, *_CLOSED):
        await asyncio.wait_for(websocket.close(code, reason), _CLOSE_TIMEOUT_S)
