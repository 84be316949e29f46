"""The external scheduling agent's standing with the master.

With the `agent` scheduler the master places only what the agent submits, as long as
the agent has been heard from within `timeout_s`; when it falls silent the built-in
fallback policy takes over (and that change is logged), until it speaks again.
"""

from __future__ import annotations

import logging

from cloudai.ports import Clock

logger = logging.getLogger(__name__)


class AgentLink:
    def __init__(self, clock: Clock, *, timeout_s: float) -> None:
        self._clock = clock
        self._timeout_s = timeout_s
        self._last_heard: float | None = None
        self._was_active = False

    def heard(self) -> None:
        """The agent called (fetched the state or submitted placements)."""
        self._last_heard = self._clock.monotonic()

    def active(self) -> bool:
        heard = self._last_heard
        active = heard is not None and self._clock.monotonic() - heard < self._timeout_s
        if active != self._was_active:
            self._was_active = active
            if active:
                logger.info("scheduling agent connected: its placements are used")
            else:
                logger.warning("scheduling agent silent: the built-in fallback policy places")
        return active
