"""The login throttle: limits per (account, address) pair, per address and per account,
windows that end on the clock, the owner's other address, bounded memory."""

from __future__ import annotations

from typing import Any

import pytest

from cloudai.domain.errors import TooManyRequests
from cloudai.master.throttle import LoginThrottle, ThrottleLimits
from cloudai.ports import FakeClock

ANN = "ann@example.test"


def throttle(
    clock: FakeClock,
    *,
    per_pair: int = 3,
    per_address: int = 100,
    per_account: int = 100,
    max_keys: int = 100_000,
) -> LoginThrottle:
    limits = ThrottleLimits(per_pair, per_address, per_account, window_s=60, max_keys=max_keys)
    return LoginThrottle(clock, limits)


def fail(t: LoginThrottle, account: str, address: str, times: int) -> None:
    for _ in range(times):
        t.admit(account, address)  # admitted, then (by not calling succeeded) failed


def test_a_pair_over_its_limit_waits_for_the_rest_of_its_window() -> None:
    clock = FakeClock()
    t = throttle(clock)
    fail(t, ANN, "10.0.0.1", 3)
    clock.advance(20.5)
    with pytest.raises(TooManyRequests) as refused:
        t.admit(ANN, "10.0.0.1")
    assert refused.value.retry_after_s == 40  # whole seconds, rounded up
    t.admit(ANN, "10.0.0.2")  # the same account from another address
    t.admit("bob@example.test", "10.0.0.1")  # another account from the same address
    clock.advance(40)
    t.admit(ANN, "10.0.0.1")  # the window is over


def test_a_refused_attempt_does_not_extend_the_window() -> None:
    clock = FakeClock()
    t = throttle(clock)
    fail(t, ANN, "10.0.0.1", 3)
    for _ in range(50):
        with pytest.raises(TooManyRequests):
            t.admit(ANN, "10.0.0.1")
    clock.advance(60)
    t.admit(ANN, "10.0.0.1")


def test_an_address_failing_on_many_accounts_is_refused_for_all() -> None:
    clock = FakeClock()
    t = throttle(clock, per_address=5)
    for n in range(5):
        t.admit(f"user{n}@example.test", "10.0.0.9")
    with pytest.raises(TooManyRequests):
        t.admit("fresh@example.test", "10.0.0.9")
    t.admit("fresh@example.test", "10.0.0.10")


def test_an_account_under_attack_still_admits_its_owner_from_a_fresh_address() -> None:
    clock = FakeClock()
    t = throttle(clock, per_pair=10, per_account=6)
    for n in range(3):
        fail(t, ANN, f"203.0.113.{n}", 2)
    # Over the account's limit: every address that failed for it is refused ...
    for n in range(3):
        with pytest.raises(TooManyRequests):
            t.admit(ANN, f"203.0.113.{n}")
    # ... a new attacker address gets a single try, then is refused too ...
    t.admit(ANN, "203.0.113.50")
    with pytest.raises(TooManyRequests):
        t.admit(ANN, "203.0.113.50")
    # ... and the owner, from an address of their own, logs in, again and again.
    for _ in range(20):
        t.admit(ANN, "192.0.2.7")
        t.succeeded(ANN, "192.0.2.7")


def test_success_clears_the_pair_and_does_not_count() -> None:
    clock = FakeClock()
    t = throttle(clock, per_address=5)
    fail(t, ANN, "127.0.0.1", 2)
    t.admit(ANN, "127.0.0.1")
    t.succeeded(ANN, "127.0.0.1")
    fail(t, ANN, "127.0.0.1", 2)  # the pair starts afresh: 2 < 3
    for _ in range(100):  # a test suite's many correct logins never add up
        t.admit("suite@example.test", "127.0.0.1")
        t.succeeded("suite@example.test", "127.0.0.1")
    t.admit("other@example.test", "127.0.0.1")  # 2 + 2 + 1 earlier failures < 5


def test_a_concurrent_burst_is_refused_before_any_result_is_known() -> None:
    t = throttle(FakeClock())
    fail(t, ANN, "10.0.0.1", 3)  # three in flight, none finished
    with pytest.raises(TooManyRequests):
        t.admit(ANN, "10.0.0.1")


def test_expired_windows_are_pruned() -> None:
    clock = FakeClock()
    t = throttle(clock)
    for n in range(50):
        t.admit(f"user{n}@example.test", f"10.0.1.{n}")
    assert len(t) == 150  # pair, address and account per attempt
    clock.advance(60)
    t.admit(ANN, "10.0.0.1")
    assert len(t) == 3


def test_the_number_of_tracked_keys_is_capped_oldest_first() -> None:
    clock = FakeClock()
    t = throttle(clock, max_keys=30, per_pair=1)
    t.admit(ANN, "10.0.0.1")  # the oldest entries
    for n in range(100):
        clock.advance(0.1)
        t.admit(f"user{n}@example.test", f"10.0.2.{n}")
        assert len(t) <= 30
    t.admit(ANN, "10.0.0.1")  # evicted: counted afresh, not refused


@pytest.mark.parametrize(
    "limits", [{"per_pair": 0}, {"per_address": 0}, {"max_keys": 0}, {"window_s": 0}]
)
def test_limits_must_be_positive(limits: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="login throttle"):
        ThrottleLimits(**limits)
