"""Where a log's last N lines begin, read backwards (stored logs) or fed front to back
(a worker's copy): both agree with splitting the whole log into lines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudai.master.log_tail import LineStarts, tail_start


def by_splitting(log: bytes, lines: int) -> int:
    kept = log.splitlines(keepends=True)[-lines:]
    return len(log) - sum(len(line) for line in kept)


def backwards(log: bytes, lines: int, max_bytes: int = 1 << 30) -> int:
    def read(offset: int, limit: int) -> bytes:
        return log[offset : offset + limit]

    return tail_start(read, len(log), lines, max_bytes)


def forwards(log: bytes, lines: int, piece: int) -> int:
    starts = LineStarts(lines)
    for at in range(0, len(log), piece):
        starts.feed(log[at : at + piece])
    return starts.start()


@pytest.mark.parametrize(
    ("log", "lines", "start"),
    [
        (b"", 3, 0),
        (b"a\nb\nc\n", 2, 2),
        (b"a\nb\nc", 2, 2),  # no final newline: "c" is still a line
        (b"a\nb\nc\n", 5, 0),
        (b"\n\n\n", 1, 2),
        (b"x" * 200_000 + b"\nlast\n", 1, 200_001),  # across read blocks
    ],
)
def test_examples(log: bytes, lines: int, start: int) -> None:
    assert backwards(log, lines) == start == forwards(log, lines, 7)


# bytes.splitlines also splits at "\r": keep it out, a log's lines end at "\n" only.
@given(st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"")), st.integers(1, 20),
       st.integers(1, 50))  # fmt: skip
def test_both_ways_agree_with_splitting(log: bytes, lines: int, piece: int) -> None:
    assert backwards(log, lines) == by_splitting(log, lines) == forwards(log, lines, piece)


def test_the_backward_scan_is_bounded() -> None:
    assert backwards(b"y" * 1000, 3, max_bytes=100) == 900
