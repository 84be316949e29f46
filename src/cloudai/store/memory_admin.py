"""The in-memory store's administration part (see `sql_admin.py`): users' flags,
workers' one-time registrations, deleting a worker or a whole task. A mixin of
`InMemoryStore`; like the rest of the fake, no method awaits, so each is atomic."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from cloudai.domain.errors import Conflict
from cloudai.domain.registrations import Registration
from cloudai.domain.users import ApiToken, Role, User
from cloudai.domain.workers import Worker


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


class AdminFake:
    _users: dict[str, User]
    _tokens: dict[str, ApiToken]
    _workers: dict[str, Worker]
    _tasks: dict[str, Any]
    _events: dict[str, list[Any]]
    _attempts: dict[tuple[str, int], Any]
    _results: dict[str, Any]
    _files: dict[str, dict[str, Any]]
    _registrations: dict[str, Registration]

    async def list_users(self) -> list[User]:
        users = sorted(self._users.values(), key=lambda u: (u.created_at, u.user_id))
        return [dataclasses.replace(u) for u in users]

    async def set_user_flags(
        self, user_id: str, *, role: Role | None = None, disabled: bool | None = None
    ) -> User | None:
        user = self._users.get(user_id)
        if user is None:
            return None
        changes: dict[str, Any] = {}
        if role is not None:
            changes["role"] = role
        if disabled is not None:
            changes["disabled"] = disabled
        user = self._users[user_id] = dataclasses.replace(user, **changes)
        return dataclasses.replace(user)

    async def delete_api_tokens(self, user_id: str) -> int:
        gone = [k for k, t in self._tokens.items() if t.user_id == user_id]
        for key in gone:
            del self._tokens[key]
        return len(gone)

    async def add_registration(self, registration: Registration) -> None:
        if registration.token_hash in self._registrations:
            raise Conflict("that registration token exists")
        self._registrations[registration.token_hash] = _stored(registration)

    async def redeem_registration(
        self, token_hash: str, worker_id: str, at: datetime
    ) -> Registration | None:
        found = self._registrations.get(token_hash)
        if found is None or not found.usable_by(worker_id, _utc(at)):
            return None
        used = dataclasses.replace(found, used_at=_utc(at), used_by=worker_id)
        self._registrations[token_hash] = used
        return used

    async def list_registrations(self) -> list[Registration]:
        return sorted(self._registrations.values(), key=lambda r: (r.created_at, r.token_hash))

    async def prune_registrations(self, expired_before: datetime) -> int:
        cutoff = _utc(expired_before)
        gone = [k for k, r in self._registrations.items() if r.expires_at < cutoff]
        for key in gone:
            del self._registrations[key]
        return len(gone)

    async def delete_worker(self, worker_id: str) -> bool:
        return self._workers.pop(worker_id, None) is not None

    async def delete_task(self, task_id: str) -> bool:
        if self._tasks.pop(task_id, None) is None:
            return False
        self._events.pop(task_id, None)
        self._results.pop(task_id, None)
        self._files.pop(task_id, None)
        for key in [k for k in self._attempts if k[0] == task_id]:
            del self._attempts[key]
        return True


def _stored(registration: Registration) -> Registration:
    """Its datetimes in UTC (registrations are frozen: nothing else to copy)."""
    r = registration
    return dataclasses.replace(
        r,
        created_at=_utc(r.created_at),
        expires_at=_utc(r.expires_at),
        used_at=None if r.used_at is None else _utc(r.used_at),
    )
