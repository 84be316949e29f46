"""How a long-lived process is asked to stop, and why a second request changes nothing."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable
from types import TracebackType
from typing import Any

from cloudai.cli import render

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP (its terminal went away) all ask
    the process to stop, once. The handlers stay in place until the stop sequence has run,
    so a second Ctrl-C while stopping is reported and otherwise ignored: cleanup that is
    cut half-way leaves containers running and a store not closed. SIGKILL still ends it.
    """

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._before: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        for sig in STOP_SIGNALS:
            self._before[sig] = signal.getsignal(sig)
            self._loop.add_signal_handler(sig, self._on_signal, sig)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig in STOP_SIGNALS:
            self._loop.remove_signal_handler(sig)
            # remove_signal_handler leaves SIGINT to KeyboardInterrupt; asyncio.run had its
            # own handler (cancel the main task), which is what should follow.
            if self._before[sig] is not None:  # None: not set from Python; nothing to restore
                signal.signal(sig, self._before[sig])

    def _on_signal(self, sig: int) -> None:
        if self.requested.is_set():
            name = signal.Signals(sig).name
            render.info(f"already stopping ({name} ignored): the stop sequence runs to its end")
            return
        self.requested.set()

    async def wait(self, *fatal: asyncio.Future[None]) -> None:
        """Until a stop is requested, or one of `fatal` ends (its error is raised)."""
        stopper = asyncio.ensure_future(self.requested.wait())
        waiters: set[asyncio.Future[Any]] = {stopper, *fatal}
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        for future in done:
            if future is not stopper:
                future.result()

    async def unless_stopped(self, step: Awaitable[object]) -> bool:
        """Run `step` unless a stop is requested first (then cancel it); True if it ran out."""
        work = asyncio.ensure_future(step)
        stopper = asyncio.ensure_future(self.requested.wait())
        try:
            await asyncio.wait([work, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (work, stopper):
                task.cancel()
            await asyncio.gather(work, stopper, return_exceptions=True)
        if work.done() and not work.cancelled():
            work.result()  # re-raise its error
            return True
        return False
