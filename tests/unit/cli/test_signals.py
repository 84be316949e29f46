"""SIGINT, SIGTERM and SIGHUP ask once; a later signal never cuts the stop sequence."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from cloudai.launch import signals
from cloudai.launch.signals import StopSignals


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
async def test_each_signal_asks_to_stop_and_a_second_is_only_noted(
    sig: signal.Signals, monkeypatch: pytest.MonkeyPatch
) -> None:
    noted: list[str] = []
    second = asyncio.Event()

    def info(message: str) -> None:
        noted.append(message)
        second.set()

    monkeypatch.setattr(signals.render, "info", info)
    before = signal.getsignal(sig)
    with StopSignals() as stop:
        os.kill(os.getpid(), sig)
        await asyncio.wait_for(stop.wait(), timeout=10)
        os.kill(os.getpid(), signal.SIGINT)  # "Ctrl-C again" while stopping
        await asyncio.wait_for(second.wait(), timeout=10)  # noted, and nothing was raised
        assert stop.requested.is_set()
    assert noted == ["already stopping (SIGINT ignored): the stop sequence runs to its end"]
    assert signal.getsignal(sig) == before


async def test_a_step_runs_out_unless_a_stop_comes_first() -> None:
    with StopSignals() as stop:
        assert await stop.unless_stopped(asyncio.sleep(0)) is True
        never = asyncio.get_running_loop().create_future()
        stop.requested.set()
        assert await stop.unless_stopped(never) is False
        assert never.cancelled()


async def test_a_failed_step_or_fatal_future_raises() -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    with StopSignals() as stop:
        with pytest.raises(RuntimeError, match="boom"):
            await stop.unless_stopped(broken())
        fatal: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fatal.set_exception(PermissionError("refused"))
        with pytest.raises(PermissionError):
            await stop.wait(fatal)
