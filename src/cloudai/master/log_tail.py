"""Where a log's last N lines begin: pure byte arithmetic, no I/O of its own.

A line ends at a newline; a log that ends with one has no empty line after it, so the
last line of b"a\\nb\\n" is b"b\\n" (as `tail` counts).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

_BLOCK = 64 * 1024


class LineStarts:
    """Fed a log front to back, remembers where its last `lines` lines begin (bounded:
    `lines` + 1 offsets, whatever the log's size)."""

    def __init__(self, lines: int) -> None:
        if lines < 1:
            raise ValueError("lines must be at least 1")
        self._lines = lines
        self._starts: deque[int] = deque([0], maxlen=lines + 1)
        self._size = 0

    def feed(self, data: bytes) -> None:
        at = data.find(b"\n")
        while at != -1:
            self._starts.append(self._size + at + 1)
            at = data.find(b"\n", at + 1)
        self._size += len(data)

    def start(self) -> int:
        starts = list(self._starts)
        if starts[-1] == self._size and len(starts) > 1:
            starts.pop()  # the newline ending the log starts no line
        return starts[-self._lines] if len(starts) >= self._lines else 0


def tail_start(read: Callable[[int, int], bytes], size: int, lines: int, max_bytes: int) -> int:
    """The offset of the last `lines` lines of a log of `size` bytes, reading backwards
    with `read(offset, limit)`; at most `max_bytes` are scanned (then the answer is
    `size - max_bytes`, possibly inside a line)."""
    if lines < 1:
        raise ValueError("lines must be at least 1")
    floor = max(0, size - max_bytes)
    end = size
    if size > floor and read(size - 1, 1) == b"\n":
        end = size - 1  # the final newline ends the last line, it does not start one
    found = 0
    while end > floor:
        begin = max(floor, end - _BLOCK)
        block = read(begin, end - begin)
        at = block.rfind(b"\n")
        while at != -1:
            found += 1
            if found == lines:
                return begin + at + 1
            at = block.rfind(b"\n", 0, at)
        end = begin
    return floor
