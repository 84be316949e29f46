"""What a running container uses now, from the daemon's one-shot stats (its cgroup's
counters): cores from the growth of its CPU time between two samples, memory as the
Docker CLI counts it (usage less the inactive page cache)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from docker.errors import DockerException

log = logging.getLogger(__name__)

_GiB = 1024**3
Key = tuple[str, int]
# Runs a blocking call on the executor's pool of short Docker calls (or raises, closed).
Call = Callable[..., Awaitable[Any]]


def sample(api: Any, container_id: str) -> tuple[int, float]:
    """(CPU time used so far in ns, GiB of memory in use). Blocking: a pool thread."""
    stats = api.stats(container_id, stream=False, one_shot=True)
    cpu = int(stats["cpu_stats"]["cpu_usage"]["total_usage"])
    memory = stats.get("memory_stats") or {}
    inner = memory.get("stats") or {}
    cache = inner.get("inactive_file", inner.get("total_inactive_file", 0))
    return cpu, max(int(memory.get("usage", 0)) - int(cache), 0) / _GiB


class CpuMeter:
    """Cores in use per attempt: CPU time grown since its last sample, over the wall
    time between them. (Not since its start: a container's first milliseconds, its
    init and shell, would read as several cores.)"""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], tuple[int, float]] = {}

    def cores(self, key: tuple[str, int], total_ns: int, at: float) -> float | None:
        """None for a first sample: there is nothing to compare it with yet."""
        previous = self._last.get(key)
        self._last[key] = (total_ns, at)
        if previous is None or at <= previous[1]:
            return None
        return round(max(0.0, (total_ns - previous[0]) / 1e9 / (at - previous[1])), 3)

    def forget(self, key: tuple[str, int]) -> None:
        self._last.pop(key, None)


async def usage_of(
    call: Call, api: Any, containers: dict[Key, str], meter: CpuMeter, closed: type[Exception]
) -> dict[Key, tuple[float, float]]:
    """(cores, GiB of memory) of each attempt's container that could be sampled, and not
    for the first time (`closed`: what `call` raises once its pool is shut)."""

    async def one(key: Key, container_id: str) -> tuple[Key, tuple[float, float] | None]:
        try:
            total_ns, memory_gb = await call(sample, api, container_id)
        except (DockerException, OSError, KeyError, ValueError, TypeError, closed) as exc:
            log.debug("no stats for container %s: %s", container_id[:12], exc)
            return key, None
        cores = meter.cores(key, total_ns, time.monotonic())
        return key, None if cores is None else (cores, round(memory_gb, 4))

    sampled = await asyncio.gather(*(one(k, c) for k, c in containers.items()))
    return {key: used for key, used in sampled if used is not None}
