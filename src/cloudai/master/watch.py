"""Blocking reads: wait until a task reaches a state, without polling.

Every committed task change bumps one version counter and wakes the waiters, who
re-read what they care about. Cheap at our scale; precise enough for any waiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class TaskWatch:
    def __init__(self) -> None:
        self._version = 0
        self._changed = asyncio.Condition()

    async def bump(self) -> None:
        async with self._changed:
            self._version += 1
            self._changed.notify_all()

    async def wait_for(self, check: Callable[[], Awaitable[tuple[bool, T]]], timeout_s: float) -> T:
        """Re-run `check` after every change until it says done or time runs out;
        returns its last value either way."""
        deadline = time.monotonic() + timeout_s
        while True:
            seen = self._version  # read before checking, so no change slips between
            done, value = await check()
            remaining = deadline - time.monotonic()
            if done or remaining <= 0:
                return value
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(self._moved(seen)), remaining)

    def _moved(self, seen: int) -> Callable[[], bool]:
        return lambda: self._version != seen
