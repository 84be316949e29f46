"""A worker's pre-registration by an admin: a one-time token the worker joins with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Registration:
    """A pending registration. Only the token's SHA-256 is kept (it is random: nothing
    to guess); the token itself travels once, in MasterRegister, to `address`."""

    token_hash: str
    address: str  # where the admin said the worker listens ("host:port")
    created_at: datetime
    expires_at: datetime
    worker_id: str | None = None  # the id the admin named; None: whichever worker answers
    used_at: datetime | None = None
    used_by: str | None = None  # the worker id that joined with it

    def usable_by(self, worker_id: str, now: datetime) -> bool:
        """Unused, unexpired, and for this worker (or for any, when none was named)."""
        if self.used_at is not None or self.expires_at <= now:
            return False
        return self.worker_id is None or self.worker_id == worker_id
