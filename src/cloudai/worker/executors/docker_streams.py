"""The long-lived part of a container's run: copying its output to the log file and
waiting for its exit, in a thread of its own for as long as the container runs.

A container this worker started is followed through the attach stream opened before
its start. One adopted after a restart (`resume_and_wait`) is followed through the
daemon's copy of its log, read from the start: the bytes the spooled log already holds
are counted off, so none is lost or written twice (exact as long as the daemon's log
keeps what the attach stream carried, as its default json-file and local drivers do).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from docker.errors import DockerException

from cloudai.domain.log_index import STDERR, STDOUT
from cloudai.worker.executors.base import LeftRunning
from cloudai.worker.executors.docker_images import explain as _explain
from cloudai.worker.logcap import LogCap, LogWriter

log = logging.getLogger(__name__)

T = TypeVar("T")


class Follow:
    """The output stream a thread copies, which another thread may close (the worker
    leaves its containers running); `done` is set once the copy has stopped writing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stream: Any = None
        self.closed = False
        self.done = threading.Event()

    def open(self, stream: Any) -> bool:
        """Follow `stream`; False (and the stream closed) if closed already."""
        with self._lock:
            if self.closed:
                close_stream(stream)
                return False
            self._stream = stream
            return True

    def close(self) -> None:
        with self._lock:
            self.closed = True
            stream = self._stream
        if stream is not None:
            close_stream(stream)

    def wait_done(self, timeout_s: float) -> bool:
        return self.done.wait(timeout_s)


def copy_and_wait(
    api: Any, container_id: str, stream: Any, log_path: Path, follow: Follow | None = None,
    cap: LogCap | None = None,
) -> int:  # fmt: skip
    """Copy the output stream to `log_path` (within `cap`) until the container exits;
    return its status."""
    follow = follow or Follow()
    try:
        if follow.open(stream):
            _copy_stream(stream, log_path, cap, follow)
    except (DockerException, OSError) as exc:
        # Losing the log must not lose the outcome: still wait for the exit status.
        log.warning("reading the output of %s failed: %s", container_id[:12], _explain(exc))
    finally:
        close_stream(stream)
        follow.done.set()
    if follow.closed:
        raise LeftRunning(f"container {container_id[:12]} left running")
    return _wait(api, container_id)


def resume_and_wait(
    api: Any, container_id: str, log_path: Path, follow: Follow, cap: LogCap | None = None
) -> int:
    """Append the output of an adopted container that `log_path` does not hold yet, until
    it exits; return its status. Following the daemon's log may end before a last line
    without a newline is stored, so it is read once more after the exit."""
    writer = LogWriter(log_path, cap, resume=True)
    try:
        try:
            stream = LogFrames(api, container_id, follow=True)
            if follow.open(stream):
                try:
                    writer.feed(stream)
                finally:
                    close_stream(stream)
        except (DockerException, OSError) as exc:
            log.warning("following the log of %s failed: %s", container_id[:12], _explain(exc))
        finally:
            follow.done.set()
        if follow.closed:
            raise LeftRunning(f"container {container_id[:12]} left running")
        status = _wait(api, container_id)
        try:
            rest = LogFrames(api, container_id, follow=False)
            try:
                writer.feed(rest)
            finally:
                close_stream(rest)
        except (DockerException, OSError) as exc:
            log.warning("reading the log of %s failed: %s", container_id[:12], _explain(exc))
    finally:
        writer.close(ended=not follow.closed)
    return status


def append_beyond(
    stream: Iterable[tuple[str, bytes]], log_path: Path, cap: LogCap | None = None
) -> int:
    """Append to `log_path` what `stream` (a log from its first byte) carries past the
    bytes the file accounts for already; returns how many bytes the file grew by."""
    writer = LogWriter(log_path, cap, resume=True)
    before = log_path.stat().st_size
    try:
        writer.feed(stream)
    finally:
        writer.close()
    return log_path.stat().st_size - before


def _wait(api: Any, container_id: str) -> int:
    result = api.wait(container_id)
    error = (result.get("Error") or {}).get("Message")
    if error:
        raise DockerException(error)
    return int(result["StatusCode"])


def _copy_stream(stream: Any, log_path: Path, cap: LogCap | None, follow: Follow) -> None:
    """Append every payload to `log_path` untouched (no decoding, no line splitting),
    within `cap`.

    The SDK has already removed the 8-byte header of each multiplexed frame. When the
    file cannot be written the stream is still drained, since a container whose output
    nobody reads blocks on its next write.
    """
    out: LogWriter | None = None
    try:
        out = LogWriter(log_path, cap)
    except OSError as exc:
        log.warning("cannot open log %s, output is dropped: %s", log_path, exc)
    try:
        for stdout, stderr in stream:  # demultiplexed: one of the two is None
            if out is None:
                continue
            try:
                if stdout:
                    out.write(stdout, STDOUT)
                if stderr:
                    out.write(stderr, STDERR)
            except OSError as exc:
                log.warning("cannot write log %s, output is dropped: %s", log_path, exc)
                out.close(ended=False)
                out = None
    finally:
        if out is not None:
            out.close(ended=not follow.closed)


class LogFrames:
    """The daemon's copy of a container's log from its first byte, as (stream, bytes)
    frames; with `follow`, on until the container exits. (The SDK's `logs` drops the
    stream of each frame: this reads the multiplexed frames itself.)"""

    _STREAMS: ClassVar[dict[int, str]] = {1: STDOUT, 2: STDERR}

    def __init__(self, api: Any, container_id: str, *, follow: bool) -> None:
        url = api._url("/containers/{0}/logs", container_id)
        params = {"stdout": 1, "stderr": 1, "follow": int(follow), "tail": "all"}
        self._response = api._get(url, params=params, stream=True)
        api._raise_for_status(self._response)

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        raw = self._response.raw
        while len(header := _read_exactly(raw, 8)) == 8:
            size = int.from_bytes(header[4:], "big")
            data = _read_exactly(raw, size)
            if data:
                yield self._STREAMS.get(header[0], STDOUT), data

    def close(self) -> None:
        self._response.close()


def _read_exactly(raw: Any, size: int) -> bytes:
    parts: list[bytes] = []
    left = size
    while left > 0 and (part := raw.read(left)):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


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
