"""Re-attaching to a container's log: the bytes the spooled log holds are counted off
the daemon's copy, so none is lost or written twice, however the chunks fall."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudai.worker.executors.docker_streams import Follow, append_beyond

LOG = b"line 1\nline 2\nline 3 without a newline"


@pytest.mark.parametrize("held", [0, 1, 7, 14, len(LOG) - 1, len(LOG)])
@pytest.mark.parametrize("chunk", [1, 5, 7, 64])
def test_only_the_bytes_not_held_are_appended(tmp_path: Path, held: int, chunk: int) -> None:
    log = tmp_path / "task.log"
    log.write_bytes(LOG[:held])
    stream = [("stdout", LOG[i : i + chunk]) for i in range(0, len(LOG), chunk)]
    assert append_beyond(iter(stream), log) == len(LOG) - held
    assert log.read_bytes() == LOG
    assert append_beyond(iter(stream), log) == 0  # read again: nothing twice
    assert log.read_bytes() == LOG


def test_a_missing_log_gets_everything(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    assert append_beyond(iter([("stdout", LOG)]), log) == len(LOG)
    assert log.read_bytes() == LOG


class Stream:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_a_closed_follow_closes_what_it_is_given_later() -> None:
    follow = Follow()
    first = Stream()
    assert follow.open(first)
    follow.close()
    assert first.closed and follow.closed
    late = Stream()
    assert not follow.open(late) and late.closed
