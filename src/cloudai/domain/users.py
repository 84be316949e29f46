"""Users, roles, and the personal API tokens programs authenticate with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    email: str
    name: str
    password_hash: str
    role: Role
    created_at: datetime
    # Login sessions (JWTs) carry the generation they were issued in; bumping it
    # (logout, password change) revokes every earlier one at once.
    session_generation: int = 0
    # A disabled account cannot log in, and its sessions and API tokens are refused.
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A personal API token's record. The secret itself is never stored: only its
    SHA-256, which is enough for a high-entropy random token."""

    token_id: str
    user_id: str
    name: str
    token_hash: str
    created_at: datetime
    expires_at: datetime | None = None  # None: until deleted
    last_used_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now
