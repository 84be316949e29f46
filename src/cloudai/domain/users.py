"""Users and roles."""

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
