"""The SQL store's administration part: users' role and disabled flag, workers'
one-time registrations, and deleting a worker or a whole task.

A mixin of `SqlStore`, like `TokenQueries`; it uses only the store's session helpers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cloudai.domain.errors import Conflict
from cloudai.domain.registrations import Registration
from cloudai.domain.users import Role, User
from cloudai.store import rows
from cloudai.store.sql_tokens import _Sessions
from cloudai.store.tables import (
    ApiTokenRow,
    AssignmentRow,
    EventRow,
    FileRow,
    RegistrationRow,
    ResultRow,
    TaskRow,
    UserRow,
    WorkerRow,
)


def _registration_of(r: RegistrationRow) -> Registration:
    return Registration(
        r.token_hash, r.address, rows.utc(r.created_at), rows.utc(r.expires_at), r.worker_id,
        rows.utc_opt(r.used_at), r.used_by,
    )  # fmt: skip


def _count(outcome: Any) -> int:
    return cast(CursorResult[Any], outcome).rowcount


class AdminQueries:
    async def list_users(self: _Sessions) -> list[User]:
        stmt = select(UserRow).order_by(UserRow.created_at, UserRow.user_id)
        return [rows.user_of(r) for r in await self._all(stmt)]

    async def set_user_flags(
        self: _Sessions, user_id: str, *, role: Role | None = None, disabled: bool | None = None
    ) -> User | None:
        values: dict[str, Any] = {}
        if role is not None:
            values["role"] = role.value
        if disabled is not None:
            values["disabled"] = disabled
        if values:
            async with self._write() as session:
                await session.execute(
                    update(UserRow).where(UserRow.user_id == user_id).values(**values)
                )
        row = await self._one(select(UserRow).where(UserRow.user_id == user_id))
        return None if row is None else rows.user_of(row)

    async def delete_api_tokens(self: _Sessions, user_id: str) -> int:
        async with self._write() as session:
            outcome = await session.execute(
                delete(ApiTokenRow).where(ApiTokenRow.user_id == user_id)
            )
        return _count(outcome)

    async def add_registration(self: _Sessions, registration: Registration) -> None:
        try:
            async with self._write() as session:
                await session.execute(insert(RegistrationRow).values(rows.columns(registration)))
        except IntegrityError as exc:
            raise Conflict("that registration token exists") from exc

    async def redeem_registration(
        self: _Sessions, token_hash: str, worker_id: str, at: datetime
    ) -> Registration | None:
        # One conditional UPDATE: two workers racing for one token cannot both win.
        redeem = (
            update(RegistrationRow)
            .where(
                RegistrationRow.token_hash == token_hash,
                RegistrationRow.used_at.is_(None),
                RegistrationRow.expires_at > rows.utc(at),
                or_(RegistrationRow.worker_id.is_(None), RegistrationRow.worker_id == worker_id),
            )
            .values(used_at=rows.utc(at), used_by=worker_id)
        )
        async with self._write() as session:
            if _count(await session.execute(redeem)) != 1:
                return None
        row = await self._one(
            select(RegistrationRow).where(RegistrationRow.token_hash == token_hash)
        )
        return None if row is None else _registration_of(row)

    async def list_registrations(self: _Sessions) -> list[Registration]:
        stmt = select(RegistrationRow).order_by(
            RegistrationRow.created_at, RegistrationRow.token_hash
        )
        return [_registration_of(r) for r in await self._all(stmt)]

    async def prune_registrations(self: _Sessions, expired_before: datetime) -> int:
        gone = delete(RegistrationRow).where(RegistrationRow.expires_at < rows.utc(expired_before))
        async with self._write() as session:
            return _count(await session.execute(gone))

    async def delete_worker(self: _Sessions, worker_id: str) -> bool:
        async with self._write() as session:
            outcome = await session.execute(
                delete(WorkerRow).where(WorkerRow.worker_id == worker_id)
            )
        return _count(outcome) == 1

    async def delete_task(self: _Sessions, task_id: str) -> bool:
        async with self._write() as session:
            for table in (EventRow, AssignmentRow, ResultRow, FileRow):
                await session.execute(delete(table).where(table.task_id == task_id))
            outcome = await session.execute(delete(TaskRow).where(TaskRow.task_id == task_id))
        return _count(outcome) == 1
