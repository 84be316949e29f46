"""The SQL store's credentials part: session generations and personal API tokens.

A mixin of `SqlStore` (kept apart so sql.py stays readable); it uses only the
store's session helpers, which `_Sessions` names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable

from cloudai.domain.errors import Conflict
from cloudai.domain.users import ApiToken
from cloudai.store import rows
from cloudai.store.tables import ApiTokenRow, UserRow

T = TypeVar("T")


class _Sessions(Protocol):
    async def _write(self, work: Callable[[Connection], T]) -> T: ...

    async def _write_user(self, user_id: str, work: Callable[[Connection], T]) -> T: ...

    async def _row(self, stmt: Executable, parameters: dict[str, Any] | None = None) -> Any: ...

    async def _all(self, stmt: Executable) -> list[Any]: ...


def _token_of(r: Any) -> ApiToken:
    return ApiToken(
        r.token_id, r.user_id, r.name, r.token_hash, rows.utc(r.created_at),
        rows.utc_opt(r.expires_at), rows.utc_opt(r.last_used_at),
    )  # fmt: skip


def _bump(user_id: str, **values: Any) -> Callable[[Connection], int | None]:
    """Increment the user's session generation (setting `values` too); the new one."""
    bumped = update(UserRow).where(UserRow.user_id == user_id)
    bumped = bumped.values(session_generation=UserRow.session_generation + 1, **values)

    def bump(conn: Connection) -> int | None:
        if conn.execute(bumped).rowcount != 1:
            return None
        # Our own uncommitted row: the update holds its lock until commit.
        stmt = select(UserRow.session_generation).where(UserRow.user_id == user_id)
        generation: int = conn.execute(stmt).scalar_one()
        return generation

    return bump


class TokenQueries:
    async def set_password(self: _Sessions, user_id: str, password_hash: str) -> int | None:
        return await self._write_user(user_id, _bump(user_id, password_hash=password_hash))

    async def revoke_sessions(self: _Sessions, user_id: str) -> int | None:
        return await self._write_user(user_id, _bump(user_id))

    async def add_api_token(self: _Sessions, token: ApiToken) -> None:
        added = insert(ApiTokenRow).values(rows.columns(token))
        try:
            await self._write(lambda conn: conn.execute(added))
        except IntegrityError as exc:
            raise Conflict(f"API token {token.token_id!r} exists") from exc

    async def get_api_token(self: _Sessions, token_hash: str) -> ApiToken | None:
        row = await self._row(select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash))
        return None if row is None else _token_of(row)

    async def list_api_tokens(self: _Sessions, user_id: str) -> list[ApiToken]:
        stmt = (
            select(ApiTokenRow)
            .where(ApiTokenRow.user_id == user_id)
            .order_by(ApiTokenRow.created_at, ApiTokenRow.token_id)
        )
        return [_token_of(r) for r in await self._all(stmt)]

    async def delete_api_token(self: _Sessions, user_id: str, token_id: str) -> bool:
        gone = delete(ApiTokenRow).where(
            ApiTokenRow.token_id == token_id, ApiTokenRow.user_id == user_id
        )
        return await self._write(lambda conn: conn.execute(gone).rowcount == 1)

    async def touch_api_token(self: _Sessions, token_id: str, at: datetime) -> None:
        used = update(ApiTokenRow).where(ApiTokenRow.token_id == token_id)
        used = used.values(last_used_at=rows.utc(at))
        await self._write(lambda conn: conn.execute(used))

    async def prune_api_tokens(self: _Sessions, expired_before: datetime) -> int:
        gone = delete(ApiTokenRow).where(ApiTokenRow.expires_at < rows.utc(expired_before))
        count: int = await self._write(lambda conn: conn.execute(gone).rowcount)
        return count
