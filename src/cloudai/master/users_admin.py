"""Admins manage accounts: list them, disable or enable one, make or unmake an admin.

Disabling revokes at once: the user's login sessions (their generation is bumped) and
API tokens (deleted) answer 401 from then on, and logging in is refused. An admin can
neither disable nor demote themselves, so a cluster always keeps an admin.
"""

from __future__ import annotations

import logging

from cloudai.domain.errors import Conflict, Forbidden, NotFound
from cloudai.domain.users import Role, User
from cloudai.ports import Store

logger = logging.getLogger(__name__)


def _admin(user: User) -> None:
    if user.role is not Role.ADMIN:
        raise Forbidden("admins only")


class UserAdmin:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def list_users(self, admin: User) -> list[User]:
        _admin(admin)
        return await self._store.list_users()

    async def update(
        self, admin: User, user_id: str, *, disabled: bool | None, is_admin: bool | None
    ) -> User:
        """Set what is given (None: unchanged); the user as now stored."""
        _admin(admin)
        if user_id == admin.user_id and (disabled is True or is_admin is False):
            raise Conflict("admins cannot disable or demote themselves: ask another admin")
        if await self._store.get_user(user_id) is None:
            raise NotFound(f"user {user_id} not found")
        role = None if is_admin is None else (Role.ADMIN if is_admin else Role.USER)
        if disabled:
            # The flag first: a request racing with the revocation is refused by it.
            await self._store.set_user_flags(user_id, disabled=True)
            await self._store.revoke_sessions(user_id)
            await self._store.delete_api_tokens(user_id)
        user = await self._store.set_user_flags(
            user_id, role=role, disabled=None if disabled else disabled
        )
        if user is None:
            raise NotFound(f"user {user_id} not found")
        logger.info(
            "user changed by an admin",
            extra={"user_id": user_id, "admin": admin.user_id, "disabled": user.disabled,
                   "role": user.role.value},
        )  # fmt: skip
        return user
