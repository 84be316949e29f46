"""Task types, SLA deadlines, learned durations (τ) and fair-share usage: pure arithmetic.

The six task types and the default τ per type are the reference's. A task's deadline is
`submitted_at + k·τ(type)`: counted from submission, so time spent queued counts against it.
τ is learned per type by an exponential moving average of finished runtimes.

Fair share charges each user resource-seconds of one scalar weight per resource vector:

    weight = cpu + memory_gb / 4 + 8 · gpu        (storage is not counted)

One core is the unit; 4 GB of memory costs one core (the usual cloud ratio of memory to
vCPU); one GPU costs 8 cores (about its price relative to a vCPU). Storage is left out: it
is disk space held for inputs and outputs, not a contended compute resource, and counting
it would let a large scratch area dwarf the compute a task really uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cloudai.domain.resources import Resources

TASK_TYPES: tuple[str, ...] = (
    "cpu-light",
    "cpu-heavy",
    "memory-heavy",
    "gpu-inference",
    "gpu-training",
    "mixed",
)
FALLBACK_TYPE = "mixed"

DEFAULT_TAU: Mapping[str, float] = MappingProxyType(
    {
        "cpu-light": 5.0,
        "cpu-heavy": 15.0,
        "memory-heavy": 20.0,
        "gpu-inference": 10.0,
        "gpu-training": 60.0,
        "mixed": 10.0,
    }
)
DEFAULT_K = 2.0
EMA_WEIGHT = 0.2

MEMORY_GB_PER_CORE = 4.0
CORES_PER_GPU = 8.0


def infer_task_type(tag: str | None, request: Resources) -> tuple[str, bool]:
    """The task type for `tag` and `request`, and whether it was inferred.

    A tag that names one of the six types is used as is; any other tag (including the
    seed dashboard's `memory-light`, or none) gets a type inferred from the request by
    the reference's rule.
    """
    if tag in TASK_TYPES:
        return tag, False
    if request.gpu > 2 and request.cpu > 4:
        return "gpu-training", True
    if request.gpu > 0:
        return "gpu-inference", True
    if request.memory_gb > 8:
        return "memory-heavy", True
    if request.cpu > 4:
        return "cpu-heavy", True
    if request.cpu > 0:
        return "cpu-light", True
    return FALLBACK_TYPE, True


def tau_for(task_type: str, learned: Mapping[str, float] | None = None) -> float:
    """τ for a type: the learned value, else the default; an unknown type counts as mixed."""
    if learned is not None and task_type in learned:
        return learned[task_type]
    return DEFAULT_TAU.get(task_type, DEFAULT_TAU[FALLBACK_TYPE])


def deadline(submitted_at: float, k: float, tau: float) -> float:
    """When a task submitted at `submitted_at` should have finished: submitted + k·τ."""
    return submitted_at + k * tau


def met_deadline(finished_at: float, deadline_at: float) -> bool:
    return finished_at <= deadline_at


def ema_update(tau: float, runtime: float, weight: float = EMA_WEIGHT) -> float:
    """τ moved towards an observed runtime: weight·runtime + (1 - weight)·τ."""
    if not 0.0 < weight <= 1.0:
        raise ValueError(f"EMA weight must be in (0, 1], got {weight}")
    return weight * runtime + (1.0 - weight) * tau


@dataclass(frozen=True, slots=True)
class TauTable:
    """Learned τ per task type; a type not learned yet reads as its default."""

    learned: Mapping[str, float] = field(default_factory=dict)
    weight: float = EMA_WEIGHT

    def tau(self, task_type: str) -> float:
        return tau_for(task_type, self.learned)

    def observe(self, task_type: str, runtime: float) -> TauTable:
        """A new table with `runtime` of a finished task of `task_type` folded in."""
        if runtime < 0:
            raise ValueError(f"runtime must not be negative, got {runtime}")
        updated = dict(self.learned)
        updated[task_type] = ema_update(self.tau(task_type), runtime, self.weight)
        return TauTable(MappingProxyType(updated), self.weight)

    def as_dict(self) -> dict[str, float]:
        return {task_type: self.tau(task_type) for task_type in TASK_TYPES}


def resource_weight(request: Resources) -> float:
    """One scalar for a resource vector, in cores (see the module docstring)."""
    return request.cpu + request.memory_gb / MEMORY_GB_PER_CORE + CORES_PER_GPU * request.gpu


def decay(usage: float, elapsed_s: float, half_life_s: float) -> float:
    """Usage after `elapsed_s` seconds of exponential decay with the given half-life."""
    if half_life_s <= 0:
        raise ValueError(f"half-life must be positive, got {half_life_s}")
    if elapsed_s <= 0:
        return usage
    return usage * math.pow(0.5, elapsed_s / half_life_s)


def charge(usage: float, request: Resources, seconds: float) -> float:
    """Usage plus `seconds` of holding `request`, in resource-seconds."""
    return usage + resource_weight(request) * max(seconds, 0.0)
