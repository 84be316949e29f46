"""The per-attempt log cap (CLOUDAI_WORKER_MAX_LOG_BYTES): a log that would grow past
it keeps its first part and its tail, and says so once, where the cut is.

    <head: max_bytes - tail_bytes bytes>
    [cloudai] log truncated: ... (once, as soon as the output passes max_bytes)
    <tail: the last tail_bytes bytes of the output, written when the run ends>

(Past the head, output is held back until it is cut or the run ends: a log under the
cap is kept whole.)

The task goes on; only its log is cut. `LogWriter` applies the cap while output is
copied (the docker executor); `cap_file` applies it afterwards to a log that was
written straight to disk (the process executor). Synchronous: callers use threads.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from cloudai.domain.log_index import CLOUDAI, SEGMENT_SPAN_MS, STDOUT, Segment, parse

NOTICE_START = b"\n[cloudai] log truncated: "
_MAX_TAIL = 1024 * 1024
_COPY = 1024 * 1024


@dataclass(frozen=True, slots=True)
class LogCap:
    max_bytes: int

    @property
    def tail_bytes(self) -> int:
        return min(self.max_bytes // 2, _MAX_TAIL)

    @property
    def head_bytes(self) -> int:
        return self.max_bytes - self.tail_bytes

    def notice(self) -> bytes:
        return (
            NOTICE_START
            + (
                f"over the {self.max_bytes}-byte cap (CLOUDAI_WORKER_MAX_LOG_BYTES); the task "
                f"goes on, and the last {self.tail_bytes} bytes of its output follow when it "
                "ends\n"
            ).encode()
        )

    def truncated(self, path: Path) -> bool:
        """Whether `path` was cut already (its notice follows the head)."""
        try:
            with path.open("rb") as log:
                log.seek(self.head_bytes)
                return log.read(len(NOTICE_START)) == NOTICE_START
        except OSError:
            return False


class LogWriter:
    """Appends a run's output to its log within the cap, and each segment's stream
    and time to the log's index (`domain.log_index`, written before the bytes it
    describes). `consumed`: bytes of the output stream the log already accounts for
    (a re-attached run's stream starts at the run's first byte): `feed` skips them, so
    nothing is written twice."""

    def __init__(
        self,
        path: Path,
        cap: LogCap | None,
        *,
        resume: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cap = cap
        self._clock = clock
        self._out: BinaryIO = path.open("ab")
        self._index: TextIO = index_path(path).open("a", encoding="ascii")
        self._size = os.fstat(self._out.fileno()).st_size
        self._cut = cap is not None and self._size > cap.head_bytes and cap.truncated(path)
        self._last: Segment | None = None
        self._held: deque[tuple[str, int, bytes]] = deque()  # (stream, at_ms, bytes)
        self._held_bytes = 0
        self.consumed = 0
        if resume:
            self.consumed = cap.head_bytes if cap is not None and self._cut else self._size

    def feed(self, stream: Iterable[tuple[str, bytes]]) -> None:
        """Write what `stream` of (stream name, bytes) — from the run's first byte, or
        the live stream with `consumed` 0 — carries past `consumed`."""
        seen = 0
        for name, chunk in stream:
            start, seen = seen, seen + len(chunk)
            new = chunk[max(0, self.consumed - start) :]
            if new:
                self.write(new, name)
                self.consumed = seen

    def write(self, data: bytes, stream: str = STDOUT) -> None:
        cap, at_ms = self._cap, int(self._clock() * 1000)
        if cap is None:
            self._put(data, stream, at_ms)
            return
        if not self._cut:
            room = max(0, cap.head_bytes - self._size)
            self._put(data[:room], stream, at_ms)
            self._hold(data[room:], stream, at_ms)  # written at the end, cut or not
            if self._size + self._held_bytes <= cap.max_bytes:
                return
            self._put(cap.notice(), CLOUDAI, at_ms)
            self._cut = True
        else:
            self._hold(data, stream, at_ms)
        while self._held_bytes > cap.tail_bytes:  # keep only the tail
            name, at, oldest = self._held.popleft()
            extra = self._held_bytes - cap.tail_bytes
            self._held_bytes -= len(oldest)
            if len(oldest) > extra:
                self._held.appendleft((name, at, oldest[extra:]))
                self._held_bytes += len(oldest) - extra

    def close(self, *, ended: bool = True) -> None:
        """Write what was held back — the tail of a cut log, or the last bytes under
        the cap — once the run has `ended` (a run left running for the next start gets
        them from that start), and close."""
        try:
            while ended and self._held:
                self._put(*_swap(self._held.popleft()))
        finally:
            self._out.close()
            self._index.close()

    def _hold(self, data: bytes, stream: str, at_ms: int) -> None:
        if data:
            self._held.append((stream, at_ms, data))
            self._held_bytes += len(data)

    def _put(self, data: bytes, stream: str, at_ms: int) -> None:
        if not data:
            return
        last = self._last
        if last is None or last.stream != stream or at_ms - last.at_ms > SEGMENT_SPAN_MS:
            self._last = Segment(self._size, stream, at_ms)
            self._index.write(self._last.line())
            self._index.flush()
        self._out.write(data)
        self._out.flush()
        self._size += len(data)


def _swap(held: tuple[str, int, bytes]) -> tuple[bytes, str, int]:
    stream, at_ms, data = held
    return data, stream, at_ms


def index_path(log_path: Path) -> Path:
    """Where a log's index is kept: beside it."""
    return log_path.with_name(log_path.name + ".idx")


class IndexReader:
    """A log's index as it grows: each `read` adds the segments written since."""

    def __init__(self, log_path: Path) -> None:
        self._path = index_path(log_path)
        self._pos = 0
        self._text = ""
        self.segments: list[Segment] = []

    def read(self) -> list[Segment]:
        """Blocking: call it in a thread. Only whole lines count."""
        try:
            with self._path.open("r", encoding="ascii", errors="replace") as index:
                index.seek(self._pos)
                added = index.read()
                self._pos = index.tell()
        except FileNotFoundError:
            return self.segments
        self._text += added
        whole, _, self._text = self._text.rpartition("\n")
        if whole:
            self.segments += parse(whole + "\n")
        return self.segments


def append_note(log_path: Path, lines: list[str], at_ms: int) -> None:
    """Append `[cloudai] …` lines (CloudAI's own words) to a log and its index."""
    with log_path.open("ab") as log:
        offset = os.fstat(log.fileno()).st_size
        with index_path(log_path).open("a", encoding="ascii") as index:
            index.write(Segment(offset, CLOUDAI, at_ms).line())
        text = "".join(f"[cloudai] {line}\n" for line in lines)
        log.write(text.encode("utf-8", errors="backslashreplace"))


def cap_file(path: Path, cap: LogCap) -> bool:
    """Cut a finished log over the cap to head, notice and tail; True if it was cut."""
    size = path.stat().st_size
    if size <= cap.max_bytes or cap.truncated(path):
        return False
    cut = path.with_name(path.name + ".cut")
    with path.open("rb") as source, cut.open("wb") as target:
        left = cap.head_bytes
        while left > 0 and (block := source.read(min(left, _COPY))):
            target.write(block)
            left -= len(block)
        target.write(cap.notice())
        source.seek(size - cap.tail_bytes)
        while block := source.read(_COPY):
            target.write(block)
    cut.replace(path)
    return True
