"""Helpers shared by test modules."""

from __future__ import annotations

import asyncio
from pathlib import Path


def log_has(path: Path, text: bytes) -> bool:
    return path.exists() and text in path.read_bytes()


async def wait_for_log(path: Path, text: bytes, timeout_s: float = 30) -> None:
    """Wait until an executor's log file contains `text`. The executor writes the file
    from another thread or process: its content is the only signal there is, so
    polling it under a deadline is the synchronisation (no event exists to await)."""
    async with asyncio.timeout(timeout_s):
        while not await asyncio.to_thread(log_has, path, text):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
