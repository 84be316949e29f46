from __future__ import annotations

from datetime import UTC, datetime

from cloudai.domain.users import Role, User
from cloudai.store.recent_users import KEPT_S, RecentUsers


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _user(user_id: str = "u-1", generation: int = 0) -> User:
    return User(
        user_id=user_id, email=f"{user_id}@example.test", name="n", password_hash="h",
        role=Role.USER, created_at=datetime(2026, 1, 1, tzinfo=UTC),
        session_generation=generation,
    )  # fmt: skip


def test_a_user_read_lately_is_answered_until_it_is_kept_too_long() -> None:
    clock = _Clock()
    recent = RecentUsers(clock)
    recent.keep(_user(), recent.mark())
    clock.now += KEPT_S / 2
    assert recent.get("u-1") == _user()
    clock.now += KEPT_S / 2
    assert recent.get("u-1") is None
    assert recent.get("u-2") is None


def test_a_change_forgets_the_user_at_once() -> None:
    recent = RecentUsers(_Clock())
    recent.keep(_user(), recent.mark())
    recent.forget("u-1")
    assert recent.get("u-1") is None


def test_a_read_that_began_before_a_change_is_not_kept() -> None:
    recent = RecentUsers(_Clock())
    mark = recent.mark()  # the read starts, then someone logs the user out
    recent.forget("u-1")
    recent.keep(_user(generation=0), mark)  # what the read saw may predate the change
    assert recent.get("u-1") is None
    recent.keep(_user(generation=1), recent.mark())
    assert recent.get("u-1") == _user(generation=1)


def test_the_table_is_bounded() -> None:
    recent = RecentUsers(_Clock())
    for n in range(5000):
        recent.keep(_user(f"u-{n}"), recent.mark())
    assert recent.get("u-4999") is not None
    assert recent.get("u-0") is None
