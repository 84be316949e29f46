"""Log followers are woken by writes (inotify), not by a poll."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from cloudai.worker import grpc_service, logwatch
from cloudai.worker.executors.base import ExitStatus
from cloudai.worker.logwatch import LogWatch
from cloudai.worker.runner import AttemptRun

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify: Linux")


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as log:
        log.write(data)


async def test_a_write_wakes_every_follower_of_the_file(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    log.touch()
    watch = LogWatch()
    with watch.growth(log) as first, watch.growth(log) as second:
        assert first is not None and second is not None
        assert not first.is_set()
        await asyncio.to_thread(append, log, b"line\n")  # another thread, as the executor
        async with asyncio.timeout(30):  # a guard, not a measure
            await first.wait()
            await second.wait()
        assert watch.watching == 1
    assert watch.watching == 0  # the last follower gone: nothing watched, nothing open


async def test_a_removed_file_wakes_its_follower(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    log.touch()
    watch = LogWatch()
    with watch.growth(log) as grown:
        assert grown is not None
        await asyncio.to_thread(log.unlink)
        async with asyncio.timeout(30):
            await grown.wait()
    assert watch.watching == 0


async def test_a_missing_file_cannot_be_watched(tmp_path: Path) -> None:
    with LogWatch().growth(tmp_path / "absent.log") as grown:
        assert grown is None  # the caller polls


async def test_a_follower_gets_new_bytes_without_waiting_for_a_poll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grpc_service, "_SAFETY_NET_S", 3600.0)  # only a wake-up can deliver
    log = tmp_path / "task.log"
    log.write_bytes(b"first\n")
    spec = SimpleNamespace(task_id="t1", log_path=log)
    run = SimpleNamespace(spec=spec, done=asyncio.Event(), status=None)
    chunks = grpc_service._log_chunks(cast(AttemptRun, run), 0, True, LogWatch())
    async with asyncio.timeout(30):
        assert (await anext(chunks)).data == b"first\n"
        reading = asyncio.ensure_future(anext(chunks))
        await asyncio.to_thread(append, log, b"second\n")
        assert (await reading).data == b"second\n"
        run.status = ExitStatus(exit_code=0)
        run.done.set()  # the attempt's end wakes it too
        last = await anext(chunks)
    assert (last.is_complete, last.offset, last.exit_code) == (True, 13, 0)
    await chunks.aclose()


async def test_without_inotify_a_follower_polls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logwatch, "_inotify", lambda: None)
    monkeypatch.setattr(grpc_service, "_POLL_S", 0.01)
    log = tmp_path / "task.log"
    log.touch()
    watch = LogWatch()
    with watch.growth(log) as grown:
        assert grown is None
    spec = SimpleNamespace(task_id="t1", log_path=log)
    run = SimpleNamespace(spec=spec, done=asyncio.Event(), status=None)
    chunks = grpc_service._log_chunks(cast(AttemptRun, run), 0, True, watch)
    async with asyncio.timeout(30):
        reading = asyncio.ensure_future(anext(chunks))
        await asyncio.to_thread(append, log, b"polled\n")
        assert (await reading).data == b"polled\n"
    await chunks.aclose()
