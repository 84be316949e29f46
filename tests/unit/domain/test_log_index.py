"""A log's index: segments parse back as written (a torn last line left out), and any
slice of the log splits exactly at segment starts, each piece with its stream."""

from __future__ import annotations

from cloudai.domain.log_index import Segment, Tagged, parse, split

SEGMENTS = [Segment(0, "stdout", 100), Segment(4, "stderr", 200), Segment(8, "cloudai", 300)]
LOG = b"out\nerr\n[cloudai] x\n"


def test_segments_parse_back_and_a_torn_or_odd_line_is_left_out() -> None:
    text = "".join(s.line() for s in SEGMENTS)
    assert parse(text) == SEGMENTS
    assert parse(text + "12 stdout 4") == SEGMENTS  # torn: no newline yet
    assert parse("0 stdout 1\nx y z\n3 weird 1\n2 stderr 5\n1 stdout 6\n") == [
        Segment(0, "stdout", 1), Segment(2, "stderr", 5),
    ]  # fmt: skip


def test_a_slice_splits_at_segment_starts() -> None:
    assert split(SEGMENTS, 0, LOG) == [
        Tagged(0, b"out\n", "stdout", 100),
        Tagged(4, b"err\n", "stderr", 200),
        Tagged(8, b"[cloudai] x\n", "cloudai", 300),
    ]
    assert split(SEGMENTS, 2, LOG[2:6]) == [
        Tagged(2, b"t\n", "stdout", 100),
        Tagged(4, b"er", "stderr", 200),
    ]
    assert split(SEGMENTS, 4, LOG[4:8]) == [Tagged(4, b"err\n", "stderr", 200)]


def test_without_segments_nothing_is_told() -> None:
    assert split([], 3, b"abc") == [Tagged(3, b"abc", None, None)]
    assert split([Segment(5, "stdout", 1)], 0, b"0123456") == [
        Tagged(0, b"01234", None, None), Tagged(5, b"56", "stdout", 1),
    ]  # fmt: skip
