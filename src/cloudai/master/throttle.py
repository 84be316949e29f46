"""Login throttling: failed attempts counted per (account, address) pair, per address and
per account, in fixed windows, so password guessing is slow and cheap to refuse.

Rules, checked before any password is verified (`admit`):

- a pair with `per_pair` attempts in its window is refused until the window ends;
- an address with `per_address` attempts (over all accounts) is refused likewise;
- an account with `per_account` attempts (from all addresses) refuses only the addresses
  that have themselves failed for it in their window: an attacker spread over many
  addresses cannot lock the owner out, who still logs in from an address of their own.

An admitted attempt counts at once (so a concurrent burst cannot slip in before the
first failures are known); a successful login then refunds it and clears its pair. The
tracked keys are bounded: expired windows are pruned, and past `max_keys` the oldest go.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from cloudai.domain.errors import TooManyRequests
from cloudai.ports import Clock

_Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    per_pair: int = 10
    per_address: int = 100
    per_account: int = 50
    window_s: float = 300.0
    max_keys: int = 100_000

    def __post_init__(self) -> None:
        if min(self.per_pair, self.per_address, self.per_account, self.max_keys) < 1:
            raise ValueError("login throttle limits must be at least 1")
        if self.window_s <= 0:
            raise ValueError("the login throttle window must be positive")


@dataclass(slots=True)
class _Window:
    start: float
    count: int


class LoginThrottle:
    def __init__(self, clock: Clock, limits: ThrottleLimits | None = None) -> None:
        self._clock = clock
        self._limits = limits or ThrottleLimits()
        # Insertion order is window-start order (a renewed window is re-inserted), so the
        # expired and the oldest entries are always at the front.
        self._windows: OrderedDict[_Key, _Window] = OrderedDict()

    def __len__(self) -> int:
        return len(self._windows)

    def admit(self, account: str, address: str) -> None:
        """Count an attempt, or raise TooManyRequests (with the seconds to wait)."""
        now = self._clock.monotonic()
        self._prune(now)
        limits = self._limits
        pair, by_address, by_account = _keys(account, address)
        over = [
            key
            for key, limit in ((pair, limits.per_pair), (by_address, limits.per_address))
            if self._count(key) >= limit
        ]
        if self._count(pair) > 0 and self._count(by_account) >= limits.per_account:
            over.append(by_account)
        if over:
            retry = max(1, math.ceil(max(self._wait(key, now) for key in over)))
            raise TooManyRequests(f"too many failed logins: retry in {retry} s", retry)
        for key in (pair, by_address, by_account):
            self._bump(key, now)
        while len(self._windows) > limits.max_keys:
            self._windows.popitem(last=False)

    def succeeded(self, account: str, address: str) -> None:
        """The admitted attempt logged in: it does not count, and its pair starts afresh."""
        pair, by_address, by_account = _keys(account, address)
        self._windows.pop(pair, None)
        for key in (by_address, by_account):
            window = self._windows.get(key)
            if window is not None and window.count > 0:
                window.count -= 1

    def _count(self, key: _Key) -> int:
        window = self._windows.get(key)
        return window.count if window is not None else 0

    def _wait(self, key: _Key, now: float) -> float:
        return self._windows[key].start + self._limits.window_s - now

    def _bump(self, key: _Key, now: float) -> None:
        window = self._windows.get(key)
        if window is None:
            self._windows[key] = _Window(now, 1)
        else:
            window.count += 1

    def _prune(self, now: float) -> None:
        horizon = now - self._limits.window_s
        while self._windows:
            key, window = next(iter(self._windows.items()))
            if window.start > horizon:
                return
            del self._windows[key]


def _keys(account: str, address: str) -> tuple[_Key, _Key, _Key]:
    return ("pair", account, address), ("address", address), ("account", account)
