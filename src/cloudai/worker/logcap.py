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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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
    """Appends a run's output to its log within the cap. `consumed`: bytes of the
    output stream the log already accounts for (a re-attached run's stream starts at
    the run's first byte): `feed` skips them, so nothing is written twice."""

    def __init__(self, path: Path, cap: LogCap | None, *, resume: bool = False) -> None:
        self._cap = cap
        self._out: BinaryIO = path.open("ab")
        self._size = os.fstat(self._out.fileno()).st_size
        self._cut = cap is not None and self._size > cap.head_bytes and cap.truncated(path)
        self._tail = bytearray()
        self.consumed = 0
        if resume:
            self.consumed = cap.head_bytes if cap is not None and self._cut else self._size

    def feed(self, stream: Iterable[bytes]) -> None:
        """Write what `stream` (from the run's first byte, or the live stream with
        `consumed` 0) carries past `consumed`."""
        seen = 0
        for chunk in stream:
            start, seen = seen, seen + len(chunk)
            new = chunk[max(0, self.consumed - start) :]
            if new:
                self.write(new)
                self.consumed = seen

    def write(self, data: bytes) -> None:
        cap = self._cap
        if cap is None:
            self._put(data)
            return
        if not self._cut:
            room = max(0, cap.head_bytes - self._size)
            self._put(data[:room])
            self._tail += data[room:]  # held back: written at the end, cut or not
            if self._size + len(self._tail) <= cap.max_bytes:
                return
            self._put(cap.notice())
            self._cut = True
        else:
            self._tail += data
        del self._tail[: max(0, len(self._tail) - cap.tail_bytes)]

    def close(self, *, ended: bool = True) -> None:
        """Write what was held back — the tail of a cut log, or the last bytes under
        the cap — once the run has `ended` (a run left running for the next start gets
        them from that start), and close."""
        try:
            if self._tail and ended:
                self._put(bytes(self._tail))
        finally:
            self._out.close()

    def _put(self, data: bytes) -> None:
        if data:
            self._out.write(data)
            self._out.flush()
            self._size += len(data)


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
