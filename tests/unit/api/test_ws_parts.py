"""The WebSocket parts without a socket: log text with byte offsets, the Origin rule,
and cutting off a client that stopped reading."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from cloudai.api.ws_auth import origin_allowed
from cloudai.api.ws_channel import Channel, SlowClient
from cloudai.api.ws_messages import LogText
from cloudai.master.log_stream import LogBytes

LOG = "plain ü € 😀 end\n".encode()


def text_and_spans(pieces: list[LogBytes]) -> tuple[str, list[tuple[int, int]]]:
    text = LogText("t1")
    messages = [m for piece in pieces for m in text.feed(piece)] + text.flush()
    return "".join(m["data"] for m in messages), [(m["offset"], m["next_offset"]) for m in messages]


@pytest.mark.parametrize("cut", range(1, len(LOG)))
def test_a_character_cut_between_pieces_arrives_whole(cut: int) -> None:
    data, spans = text_and_spans([LogBytes(1, 0, LOG[:cut]), LogBytes(1, cut, LOG[cut:])])
    assert data == LOG.decode()
    assert spans[0][0] == 0 and spans[-1][1] == len(LOG)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    for start, end in spans:  # each message covers whole characters only
        LOG[start:end].decode()


def test_resuming_at_a_next_offset_repeats_and_loses_nothing() -> None:
    text = LogText("t1")
    first = text.feed(LogBytes(1, 0, LOG[:9]))  # "plain ü " and one byte of "€"
    resume = first[-1]["next_offset"]
    assert LOG[:resume].decode() == first[-1]["data"]
    rest, _ = text_and_spans([LogBytes(1, resume, LOG[resume:])])
    assert first[-1]["data"] + rest == LOG.decode()


def test_a_new_attempt_starts_afresh_and_a_cut_end_is_replaced() -> None:
    text = LogText("t1")
    assert text.feed(LogBytes(1, 0, "a€".encode()[:2])) == [
        {"type": "log", "task_id": "t1", "attempt": 1, "offset": 0, "next_offset": 1,
         "data": "a", "stream": None, "at": None},
    ]  # fmt: skip
    messages = text.feed(LogBytes(2, 0, b"b\n"))
    assert [(m["attempt"], m["offset"], m["next_offset"], m["data"]) for m in messages] == [
        (1, 1, 2, "\ufffd"),  # attempt 1 ended inside a character
        (2, 0, 2, "b\n"),
    ]


def test_each_message_is_of_one_stream_with_its_time() -> None:
    text = LogText("t1")
    euro = "€".encode()
    pieces = [
        LogBytes(1, 0, b"out " + euro[:1], "stdout", 1_700_000_000_000),
        LogBytes(1, 5, euro[1:] + b"\n", "stdout", 1_700_000_000_500),  # same stream
        LogBytes(1, 8, b"err\n", "stderr", 1_700_000_000_750),
        LogBytes(1, 12, b"out again\n", "stdout", 1_700_000_001_000),
    ]
    messages = [m for piece in pieces for m in text.feed(piece)]
    assert [(m["offset"], m["next_offset"], m["stream"], m["data"], m["at"]) for m in messages] == [
        (0, 4, "stdout", "out ", "2023-11-14T22:13:20.000Z"),
        (4, 8, "stdout", "€\n", "2023-11-14T22:13:20.500Z"),  # the character held back, whole
        (8, 12, "stderr", "err\n", "2023-11-14T22:13:20.750Z"),
        (12, 22, "stdout", "out again\n", "2023-11-14T22:13:21.000Z"),
    ]


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        (None, "m:8080", (), True),  # not a browser
        ("http://m:8080", "m:8080", (), True),
        ("HTTP://M:8080", "m:8080", (), True),
        ("http://m", "m:80", (), True),
        ("https://m", "m", (), True),
        ("http://m:8081", "m:8080", (), False),
        ("http://evil.example", "m:8080", (), False),
        ("http://ui.example:3000", "m:8080", ("http://ui.example:3000",), True),
        ("http://ui.example:3001", "m:8080", ("http://ui.example:3000",), False),
        ("null", "m:8080", (), False),
        ("file://", "m:8080", (), False),
        ("http://m:8080/path", "m:8080", (), False),
        ("http://m:99999", "m:8080", (), False),
        ("http://m:8080", None, (), False),
    ],
)
def test_the_origin_rule(origin: str | None, host: str | None, allowed: tuple[str, ...],
                         ok: bool) -> None:  # fmt: skip
    assert origin_allowed(origin, host, allowed) is ok


class _Stuck:
    """A socket whose write buffer never drains."""

    async def send_text(self, text: str) -> None:
        await asyncio.Event().wait()


async def test_a_client_that_stops_reading_is_cut_off() -> None:
    stuck: Any = _Stuck()
    channel = Channel(stuck, user=None, services=None, send_timeout_s=0.01)  # type: ignore[arg-type]
    with pytest.raises(SlowClient):
        await channel.send({"type": "log"})
