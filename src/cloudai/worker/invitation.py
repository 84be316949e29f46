"""A worker started with --wait-for-master: it has no join token and waits until a
master calls MasterRegister with a one-time registration token (an admin's `cloudai
register`), then joins that master with it. While it is registered, it refuses any
other MasterRegister; once the master forgets it (removed), it waits again.

MasterRegister carries no credential (the worker has none yet): the first master to
call a waiting worker gets it, so keep its port unreachable to others until then.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Invited:
    master_address: str
    token: str


class Invitation:
    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.waiting = asyncio.Event()  # set while a MasterRegister would be accepted
        self._invited: asyncio.Queue[Invited] = asyncio.Queue(maxsize=1)

    def offer(self, master_address: str, token: str, expected_id: str) -> tuple[bool, str]:
        """A MasterRegister: (accepted, the answer's message)."""
        if not self.waiting.is_set():
            return False, "this worker is not waiting for a master (it is registered)"
        if expected_id and expected_id != self.worker_id:
            return False, f"this worker is {self.worker_id!r}, not {expected_id!r}"
        if not master_address or not token:
            return False, "MasterRegister needs the master's address and a registration token"
        self.waiting.clear()
        self._invited.put_nowait(Invited(master_address, token))
        logger.info("invited by the master at %s", master_address)
        return True, "registering"

    async def wait(self) -> Invited:
        """Wait for the next invitation (accepting one from now on)."""
        self.waiting.set()
        logger.info("worker %s waits for a master to register it", self.worker_id)
        return await self._invited.get()
