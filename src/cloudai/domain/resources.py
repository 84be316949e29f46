"""Resource vectors: CPU in cores, memory and storage in GiB (2^30 bytes), GPUs as a whole count."""

from __future__ import annotations

from dataclasses import dataclass

# Float sums of fractional cores must not make a task "not fit" by 1e-15.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Resources:
    cpu: float = 0.0
    memory_gb: float = 0.0
    storage_gb: float = 0.0
    gpu: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu + other.cpu,
            self.memory_gb + other.memory_gb,
            self.storage_gb + other.storage_gb,
            self.gpu + other.gpu,
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu - other.cpu,
            self.memory_gb - other.memory_gb,
            self.storage_gb - other.storage_gb,
            self.gpu - other.gpu,
        )

    def fits_in(self, capacity: Resources) -> bool:
        """True when this request fits in `capacity` on every dimension."""
        return not self.shortfalls(capacity)

    def shortfalls(self, capacity: Resources) -> list[str]:
        """Names of the dimensions on which this request exceeds `capacity`."""
        missing = []
        if self.cpu > capacity.cpu + _EPSILON:
            missing.append("cpu")
        if self.memory_gb > capacity.memory_gb + _EPSILON:
            missing.append("memory")
        if self.storage_gb > capacity.storage_gb + _EPSILON:
            missing.append("storage")
        if self.gpu > capacity.gpu:
            missing.append("gpu")
        return missing

    def clamped(self) -> Resources:
        """No dimension below zero (a safety net; releases happen exactly once)."""
        return Resources(
            max(self.cpu, 0.0),
            max(self.memory_gb, 0.0),
            max(self.storage_gb, 0.0),
            max(self.gpu, 0),
        )


DEFAULT_REQUEST = Resources(cpu=1.0, memory_gb=0.5, storage_gb=1.0, gpu=0)
