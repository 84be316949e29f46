"""The SQL store's administration part: users' role and disabled flag, workers'
one-time registrations, and deleting a worker or a whole task.

A mixin of `SqlStore`, like `TokenQueries`; it uses only the store's session helpers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection
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


def _registration_of(r: Any) -> Registration:
    return Registration(
        r.token_hash, r.address, rows.utc(r.created_at), rows.utc(r.expires_at), r.worker_id,
        rows.utc_opt(r.used_at), r.used_by,
    )  # fmt: skip


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
            flagged = update(UserRow).where(UserRow.user_id == user_id).values(**values)
            await self._write_user(user_id, lambda conn: conn.execute(flagged))
        row = await self._row(select(UserRow).where(UserRow.user_id == user_id))
        return None if row is None else rows.user_of(row)

    async def delete_api_tokens(self: _Sessions, user_id: str) -> int:
        gone = delete(ApiTokenRow).where(ApiTokenRow.user_id == user_id)
        count: int = await self._write(lambda conn: conn.execute(gone).rowcount)
        return count

    async def add_registration(self: _Sessions, registration: Registration) -> None:
        added = insert(RegistrationRow).values(rows.columns(registration))
        try:
            await self._write(lambda conn: conn.execute(added))
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
        if not await self._write(lambda conn: conn.execute(redeem).rowcount == 1):
            return None
        row = await self._row(
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
        count: int = await self._write(lambda conn: conn.execute(gone).rowcount)
        return count

    async def delete_worker(self: _Sessions, worker_id: str) -> bool:
        gone = delete(WorkerRow).where(WorkerRow.worker_id == worker_id)
        return await self._write(lambda conn: conn.execute(gone).rowcount == 1)

    async def delete_task(self: _Sessions, task_id: str) -> bool:
        def delete_all(conn: Connection) -> bool:
            for table in (EventRow, AssignmentRow, ResultRow, FileRow):
                conn.execute(delete(table).where(table.task_id == task_id))
            return conn.execute(delete(TaskRow).where(TaskRow.task_id == task_id)).rowcount == 1

        return await self._write(delete_all)
