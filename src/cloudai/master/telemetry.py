"""Recent heartbeat samples per worker, in memory: a bounded ring each, newest last.

Fed by the registry on every accepted heartbeat. It is a short window for people
and dashboards (360 samples at the 5 s heartbeat is half an hour), not a history:
a master restart starts it empty.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from cloudai.domain.workers import Usage

DEFAULT_SAMPLES = 360


@dataclass(frozen=True, slots=True)
class Sample:
    at: datetime
    usage: Usage


class Telemetry:
    def __init__(self, max_samples: int = DEFAULT_SAMPLES) -> None:
        if max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        self._max = max_samples
        self._rings: dict[str, deque[Sample]] = {}
        self._heartbeats = 0

    @property
    def max_samples(self) -> int:
        return self._max

    @property
    def heartbeats_total(self) -> int:
        """Heartbeats accepted since the master started (all workers)."""
        return self._heartbeats

    def record(self, worker_id: str, at: datetime, usage: Usage) -> None:
        ring = self._rings.get(worker_id)
        if ring is None:
            ring = self._rings[worker_id] = deque(maxlen=self._max)
        ring.append(Sample(at, usage))
        self._heartbeats += 1

    def samples(self, worker_id: str, limit: int | None = None) -> list[Sample]:
        """The worker's recent samples, oldest first; the last `limit` when given."""
        ring = list(self._rings.get(worker_id, ()))
        if limit is None or limit >= len(ring):
            return ring
        return ring[len(ring) - limit :] if limit > 0 else []
