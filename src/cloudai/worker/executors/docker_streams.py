"""The long-lived part of a container's run: copying its output to the log file and
waiting for its exit, in a thread of its own for as long as the container runs."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from docker.errors import DockerException

from cloudai.worker.executors.docker_images import explain as _explain

log = logging.getLogger(__name__)

T = TypeVar("T")


def copy_and_wait(api: Any, container_id: str, stream: Any, log_path: Path) -> int:
    """Copy the output stream to `log_path` until the container exits; return its status."""
    try:
        _copy_stream(stream, log_path)
    except (DockerException, OSError) as exc:
        # Losing the log must not lose the outcome: still wait for the exit status.
        log.warning("reading the output of %s failed: %s", container_id[:12], _explain(exc))
    finally:
        close_stream(stream)
    result = api.wait(container_id)
    error = (result.get("Error") or {}).get("Message")
    if error:
        raise DockerException(error)
    return int(result["StatusCode"])


def _copy_stream(stream: Any, log_path: Path) -> None:
    """Append every payload to `log_path` untouched: no decoding, no line splitting.

    The SDK has already removed the 8-byte header of each multiplexed frame. When the
    file cannot be written the stream is still drained, since a container whose output
    nobody reads blocks on its next write.
    """
    out: BinaryIO | None = None
    try:
        out = log_path.open("ab")
    except OSError as exc:
        log.warning("cannot open log %s, output is dropped: %s", log_path, exc)
    try:
        for chunk in stream:
            if out is None:
                continue
            try:
                out.write(chunk)
                out.flush()
            except OSError as exc:
                log.warning("cannot write log %s, output is dropped: %s", log_path, exc)
                out.close()
                out = None
    finally:
        if out is not None:
            out.close()


def close_stream(stream: Any) -> None:
    try:
        stream.close()
    except (DockerException, OSError) as exc:  # e.g. already closed by the daemon
        log.debug("closing an output stream failed: %s", exc)


async def in_thread(name: str, fn: Callable[[], T]) -> T:
    """Run `fn` in a new daemon thread and await its result."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def target() -> None:
        try:
            outcome: tuple[bool, Any] = (True, fn())
        except BaseException as exc:  # handed over to the awaiting coroutine
            outcome = (False, exc)
        try:
            loop.call_soon_threadsafe(_settle, future, *outcome)
        except RuntimeError:
            log.debug("event loop closed before thread %s finished", name)

    threading.Thread(target=target, name=name, daemon=True).start()
    return await future


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # the awaiting coroutine was cancelled meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
