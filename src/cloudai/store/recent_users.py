"""Users read lately, so that an authenticated request need not read its user's row.

Every request reads its user (the session generation and the disabled flag are checked
each time); with one user submitting hundreds of tasks a second, that read was one
store call in five. A user read less than `KEPT_S` ago is answered from here instead.

A change made through this store (a password, a logout, a role, the disabled flag)
forgets the user at once, so on this master it takes effect on the next request, as
before. A change made through another master on the same database is seen here within
`KEPT_S` (Nomad keeps ACL tokens for 30 s, Kubernetes webhook answers for 2 minutes).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from cloudai.domain.users import User

KEPT_S = 1.0
_LIMIT = 4096  # users kept at most; past it, the table starts again empty


class RecentUsers:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._kept: dict[str, tuple[float, User]] = {}
        # Bumped on every change: a read that began before one is not kept, since it
        # may have seen the row before that change.
        self._changes = 0

    async def read_through(
        self, user_id: str, read: Callable[[str], Awaitable[User | None]]
    ) -> User | None:
        """The user kept, else `read` it (and keep what it found)."""
        kept = self.get(user_id)
        if kept is not None:
            return kept
        mark = self.mark()
        user = await read(user_id)
        if user is not None:
            self.keep(user, mark)
        return user

    def get(self, user_id: str) -> User | None:
        found = self._kept.get(user_id)
        if found is None:
            return None
        read_at, user = found
        if self._clock() - read_at >= KEPT_S:
            del self._kept[user_id]
            return None
        return user

    def mark(self) -> int:
        """Taken before a read; `keep` it with the user that read found."""
        return self._changes

    def keep(self, user: User, mark: int) -> None:
        if mark != self._changes:
            return
        if len(self._kept) >= _LIMIT:
            self._kept.clear()
        self._kept[user.user_id] = (self._clock(), user)

    def forget(self, user_id: str) -> None:
        self._changes += 1
        self._kept.pop(user_id, None)
