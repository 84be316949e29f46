"""Live streams: WebSockets for telemetry, task events and task logs, and a task's log
as one chunked HTTP response (`tail -f` for scripts). Message shapes: ws_messages.py;
admission and close codes: ws_channel.py; everything in docs/api.md."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket
from fastapi.responses import StreamingResponse

from cloudai.api import ws_messages as msg
from cloudai.api.deps import CurrentUser, ServicesDep
from cloudai.api.limits import MAX_OFFSET, Offset
from cloudai.api.ws_channel import Channel, serve
from cloudai.domain.errors import InvalidRequest, Unavailable
from cloudai.domain.users import Role, User
from cloudai.master.bus import Closed, Event, Filter, Heartbeat, TaskChanged, WorkerChanged
from cloudai.master.log_stream import MAX_TAIL_LINES, LogBytes, LogEnd, LogItem

router = APIRouter()

AttemptNo = Annotated[int, Query(ge=1, le=MAX_OFFSET)]
TailLines = Annotated[int, Query(ge=1, le=MAX_TAIL_LINES)]


@router.websocket("/ws/telemetry")
async def telemetry_all(websocket: WebSocket) -> None:
    await serve(websocket, lambda channel: _telemetry(channel, None))


@router.websocket("/ws/telemetry/{worker_id}")
async def telemetry_one(websocket: WebSocket, worker_id: str) -> None:
    await serve(websocket, lambda channel: _telemetry(channel, worker_id))


@router.websocket("/ws/events")
async def events(websocket: WebSocket) -> None:
    await serve(websocket, _events)


@router.websocket("/ws/tasks/{task_id}/logs")
async def task_log(websocket: WebSocket, task_id: str) -> None:
    await serve(websocket, lambda channel: _log(channel, task_id))


@router.get("/api/tasks/{task_id}/logs/stream", tags=["tasks"])
async def stream_log(
    task_id: str,
    user: CurrentUser,
    services: ServicesDep,
    follow: bool = False,
    tail: TailLines | None = None,
    attempt: AttemptNo | None = None,
    offset: Offset = 0,
) -> StreamingResponse:
    """The log's raw bytes from (`attempt`, `offset`), or its last `tail` lines; with
    `follow`, on through later attempts until the task is final."""
    if tail is not None and offset:
        raise InvalidRequest("give tail or offset, not both")
    logs = services.log_stream
    first = await logs.first_attempt(user, task_id, attempt)  # 404 before any byte
    if tail is not None:
        offset = await logs.tail_offset(user, task_id, first, tail)
    items = logs.read(user, task_id, first, offset, follow=follow)
    headers = {"X-CloudAI-Attempt": str(first), "X-CloudAI-Offset": str(offset)}
    return StreamingResponse(_raw(items), media_type="text/plain; charset=utf-8", headers=headers)


async def _raw(items: AsyncGenerator[LogItem, None]) -> AsyncIterator[bytes]:
    async with aclosing(items):
        try:
            async for item in items:
                if isinstance(item, LogBytes):
                    yield item.data
        except (Closed, Unavailable):
            return  # the master is stopping: end the body rather than break it


async def _telemetry(channel: Channel, worker_id: str | None) -> None:
    """A snapshot of the workers, then one worker's state at each of its heartbeats
    and liveness or eligibility changes."""
    cluster, user = channel.services.cluster, channel.user
    with channel.services.bus.subscribe(_about_workers(worker_id)) as changes:
        if worker_id is None:
            views = await cluster.workers(user)
        else:
            views = [await cluster.worker(user, worker_id)]  # NotFound: 1008
        await channel.send(msg.telemetry(views, snapshot=True))
        while True:
            event = await changes.get()
            assert isinstance(event, Heartbeat | WorkerChanged)
            view = await cluster.worker(user, event.worker_id)
            await channel.send(msg.telemetry([view], snapshot=False))


def _about_workers(worker_id: str | None) -> Filter:
    def accept(event: Event) -> bool:
        if not isinstance(event, Heartbeat | WorkerChanged):
            return False
        return worker_id is None or event.worker_id == worker_id

    return accept


async def _events(channel: Channel) -> None:
    """Task status changes: the caller's own tasks, an admin's: all."""
    user = channel.user
    with channel.services.bus.subscribe(_tasks_of(user)) as changes:
        everyone = user.role is Role.ADMIN
        await channel.send({"type": "connected", "user_id": user.user_id, "all_users": everyone})
        while True:
            event = await changes.get()
            assert isinstance(event, TaskChanged)
            await channel.send(msg.task_changed(event))


def _tasks_of(user: User) -> Filter:
    def accept(event: Event) -> bool:
        if not isinstance(event, TaskChanged):
            return False
        return user.role is Role.ADMIN or event.user_id == user.user_id

    return accept


async def _log(channel: Channel, task_id: str) -> None:
    attempt = _number(channel, "attempt", 1)
    offset = _number(channel, "offset", 0) or 0
    logs = channel.services.log_stream
    first = await logs.first_attempt(channel.user, task_id, attempt)  # NotFound: 1008
    await channel.send({
        "type": "connected", "task_id": task_id, "user_id": channel.user.user_id,
        "attempt": first, "offset": offset, "message": "streaming the task's log",
    })  # fmt: skip
    text = msg.LogText(task_id)
    async with aclosing(logs.read(channel.user, task_id, first, offset, follow=True)) as items:
        async for item in items:
            if isinstance(item, LogEnd):
                for message in text.flush():
                    await channel.send(message)
                await channel.send(msg.log_complete(item.task))
                return
            for message in text.feed(item):
                await channel.send(message)


def _number(channel: Channel, name: str, least: int) -> int | None:
    raw = channel.query(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) < 20) or not (
        least <= int(raw) <= MAX_OFFSET
    ):
        raise InvalidRequest(f"{name} must be a whole number from {least} to {MAX_OFFSET}")
    return int(raw)
