"""Per-attempt usage: cores from CPU time grown between samples, memory less the page
cache; carried in heartbeats and read back by the master."""

from __future__ import annotations

from typing import Any

from cloudai.domain.attempts import HeldAttempt
from cloudai.domain.resources import Resources
from cloudai.domain.workers import TaskUsage, Usage
from cloudai.rpc import convert
from cloudai.worker.executors.docker_stats import CpuMeter, sample

KEY = ("t1", 1)


def test_cores_are_cpu_time_over_wall_time() -> None:
    meter = CpuMeter()
    assert meter.cores(KEY, 200_000_000, at=10.0) is None  # a first sample: no baseline
    assert meter.cores(KEY, 1_200_000_000, at=12.0) == 0.5  # 1 s of CPU in 2 s
    assert meter.cores(KEY, 4_200_000_000, at=13.0) == 3.0  # 3 s in 1 s: three cores
    meter.forget(KEY)
    assert meter.cores(KEY, 5_000_000_000, at=14.0) is None


class Api:
    def __init__(self, stats: dict[str, Any]) -> None:
        self.stats_of = stats

    def stats(self, container_id: str, **_: Any) -> dict[str, Any]:
        return self.stats_of


def test_memory_leaves_out_the_inactive_page_cache() -> None:
    v2 = {"cpu_stats": {"cpu_usage": {"total_usage": 7}},
          "memory_stats": {"usage": 3 * 1024**3, "stats": {"inactive_file": 1024**3}}}  # fmt: skip
    assert sample(Api(v2), "c") == (7, 2.0)
    cache = {"total_inactive_file": 512 * 1024**2}  # cgroup v1's name
    v1 = {"cpu_stats": {"cpu_usage": {"total_usage": 8}},
          "memory_stats": {"usage": 1024**3, "stats": cache}}  # fmt: skip
    assert sample(Api(v1), "c") == (8, 0.5)


def test_usage_travels_in_heartbeats() -> None:
    held = [
        HeldAttempt("t1", 1, True, Resources(1, 1, 0, 0), cpu_used=0.75, memory_used_gb=0.5),
        HeldAttempt("t2", 3, False, Resources(1, 1, 0, 0)),  # not measured
    ]
    beat = convert.heartbeat_to_proto("w1", Usage(10, 20, 30, 0), held)
    decoded = convert.usage_from_heartbeat(type(beat).FromString(beat.SerializeToString()))
    assert decoded.tasks == (TaskUsage("t1", 1, 0.75, 0.5),)
    assert decoded.of_task("t1", 1) == TaskUsage("t1", 1, 0.75, 0.5)
    assert decoded.of_task("t2", 3) is None
