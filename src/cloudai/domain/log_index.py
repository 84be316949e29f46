"""Which stream each byte of an attempt's log came from, and when it was read.

The log itself stays raw bytes (stdout and stderr in arrival order). Beside it, its
index lists segments, one text line each, `<offset> <stream> <at_ms>\\n`: from `offset`
up to the next segment's offset the bytes are of `stream` ("stdout", "stderr", or
"cloudai" for lines CloudAI itself adds, such as the truncation notice), first read at
`at_ms` (unix milliseconds, the worker's clock). A segment covers consecutive reads of
one stream within about a second, so the index stays small beside its log. A log with
no index (an older worker, the process executor) has no stream to tell.
"""

from __future__ import annotations

from dataclasses import dataclass

STDOUT = "stdout"
STDERR = "stderr"
CLOUDAI = "cloudai"
STREAMS = frozenset({STDOUT, STDERR, CLOUDAI})
SEGMENT_SPAN_MS = 1000  # later reads of the same stream open a new segment


@dataclass(frozen=True, slots=True)
class Segment:
    offset: int
    stream: str
    at_ms: int

    def line(self) -> str:
        return f"{self.offset} {self.stream} {self.at_ms}\n"


@dataclass(frozen=True, slots=True)
class Tagged:
    """Bytes of one stream, from one segment."""

    offset: int
    data: bytes
    stream: str | None  # None: no index tells it
    at_ms: int | None


def parse(text: str) -> list[Segment]:
    """The segments of an index, in order; lines that do not parse (a torn last line
    of an index being written) are left out."""
    segments: list[Segment] = []
    for line in text.splitlines(keepends=True):
        parts = line.split()
        if not line.endswith("\n") or len(parts) != 3 or parts[1] not in STREAMS:
            continue
        try:
            segment = Segment(int(parts[0]), parts[1], int(parts[2]))
        except ValueError:
            continue
        if segments and segment.offset < segments[-1].offset:
            continue
        segments.append(segment)
    return segments


def split(segments: list[Segment], offset: int, data: bytes) -> list[Tagged]:
    """`data` (the log's bytes from `offset`) cut where segments begin, each piece with
    its segment's stream and time; one untagged piece without segments."""
    before = [s for s in segments if s.offset <= offset]
    current = before[-1] if before else None
    pieces: list[Tagged] = []
    start, end = offset, offset + len(data)
    for segment in [s for s in segments if offset < s.offset < end]:
        if segment.offset > start:
            pieces.append(_tagged(current, start, data[start - offset : segment.offset - offset]))
        start, current = segment.offset, segment
    if end > start or not pieces:
        pieces.append(_tagged(current, start, data[start - offset :]))
    return pieces


def _tagged(segment: Segment | None, offset: int, data: bytes) -> Tagged:
    if segment is None:
        return Tagged(offset, data, None, None)
    return Tagged(offset, data, segment.stream, segment.at_ms)
