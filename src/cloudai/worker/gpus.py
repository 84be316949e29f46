"""GPUs: what this machine has (NVML), how busy they are, and which attempt holds which.

NVML (`pynvml`, from nvidia-ml-py) is imported and initialised on first use, never at
import. Without the library, a driver or a GPU the probe reports no devices and the
worker offers 0 GPUs. `FakeGpuProbe` is a fixed inventory for tests and CI
(`CLOUDAI_WORKER_FAKE_GPUS`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cloudai.domain.errors import Conflict

logger = logging.getLogger(__name__)

_GIB = 1024**3
FAKE_GPU_MEMORY_GB = 16.0


@dataclass(frozen=True, slots=True)
class GpuDevice:
    index: int  # NVML's index, in PCI bus order
    uuid: str
    name: str
    memory_gb: float  # total memory, GiB


class GpuProbe(Protocol):
    def devices(self) -> list[GpuDevice]:
        """Every GPU this machine has; [] when there are none or they cannot be read."""
        ...

    def utilisation(self) -> list[tuple[float, float]]:
        """(GPU busy %, memory used %) per device, in index order; [] without GPUs."""
        ...


class FakeGpuProbe:
    """A fixed inventory: the same devices and utilisation on every call."""

    def __init__(
        self,
        devices: Sequence[GpuDevice] = (),
        utilisation: Sequence[tuple[float, float]] | None = None,
    ) -> None:
        self._devices = list(devices)
        self._utilisation = list(utilisation or [(0.0, 0.0)] * len(self._devices))

    @classmethod
    def with_count(cls, count: int, busy: float = 0.0, memory_used: float = 0.0) -> FakeGpuProbe:
        devices = [
            GpuDevice(i, f"GPU-fake-{i:04d}", "CloudAI Fake GPU", FAKE_GPU_MEMORY_GB)
            for i in range(count)
        ]
        return cls(devices, [(busy, memory_used)] * count)

    def devices(self) -> list[GpuDevice]:
        return list(self._devices)

    def utilisation(self) -> list[tuple[float, float]]:
        return list(self._utilisation)


class NvmlProbe:
    """The real GPUs, through NVML. Blocking: callers run it in a thread.

    NVML stays initialised for the life of the process (no shutdown): the sampler asks
    every heartbeat, and initialising costs far more than a query."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nvml: Any = None
        self._tried = False
        self._complained = False

    def devices(self) -> list[GpuDevice]:
        nvml = self._load()
        if nvml is None:
            return []
        try:
            return [_device(nvml, i) for i in range(nvml.nvmlDeviceGetCount())]
        except nvml.NVMLError as exc:
            self._unusable(f"cannot list GPUs: {exc}")
            return []

    def utilisation(self) -> list[tuple[float, float]]:
        nvml = self._load()
        if nvml is None:
            return []
        try:
            return [_utilisation(nvml, i) for i in range(nvml.nvmlDeviceGetCount())]
        except nvml.NVMLError as exc:
            self._unusable(f"cannot read GPU utilisation: {exc}")
            return []

    def _load(self) -> Any:
        """The initialised pynvml module, or None (tried once, remembered)."""
        with self._lock:
            if not self._tried:
                self._tried = True
                self._nvml = self._init()
            return self._nvml

    def _init(self) -> Any:
        try:
            import pynvml
        except ImportError:
            self._unusable("nvidia-ml-py (pynvml) is not installed")
            return None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:  # no driver, no library, no GPU
            self._unusable(str(exc))
            return None
        return pynvml

    def _unusable(self, why: str) -> None:
        # Once only: on a machine without GPUs this would repeat every heartbeat.
        if not self._complained:
            self._complained = True
            logger.info("no GPUs offered (NVML: %s)", why)


def _device(nvml: Any, index: int) -> GpuDevice:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    return GpuDevice(
        index=index,
        uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
        name=_text(nvml.nvmlDeviceGetName(handle)),
        memory_gb=round(memory.total / _GIB, 2),
    )


def _utilisation(nvml: Any, index: int) -> tuple[float, float]:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    rates = nvml.nvmlDeviceGetUtilizationRates(handle)
    # rates.memory is memory *bandwidth* use; the share of memory in use is what we want.
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    used = 100.0 * memory.used / memory.total if memory.total else 0.0
    return float(rates.gpu), round(used, 2)


def _text(value: str | bytes) -> str:
    """Older pynvml releases return bytes."""
    return value.decode() if isinstance(value, bytes) else value


def build_probe(fake_gpus: int) -> GpuProbe:
    """The configured probe: a fake inventory when `fake_gpus` > 0, else NVML."""
    return FakeGpuProbe.with_count(fake_gpus) if fake_gpus > 0 else NvmlProbe()


def offered_indexes(devices: Sequence[GpuDevice], setting: int | None) -> tuple[int, ...]:
    """The device indexes this worker hands out. Without a setting: every device found.
    A setting at most the count found offers the first ones; a larger one is the
    operator's word for GPUs NVML cannot see (indexes 0..setting-1)."""
    found = tuple(sorted(d.index for d in devices))
    if setting is None:
        return found
    return found[:setting] if setting <= len(found) else tuple(range(setting))


class GpuAllocator:
    """Which attempt holds which device: no device is ever held by two attempts.
    Used from the event loop only, so it needs no lock."""

    def __init__(self, indexes: Sequence[int] = ()) -> None:
        self._indexes = tuple(sorted(set(indexes)))
        self._held: dict[tuple[str, int], tuple[int, ...]] = {}

    @property
    def total(self) -> int:
        return len(self._indexes)

    def free(self) -> tuple[int, ...]:
        taken = {i for ids in self._held.values() for i in ids}
        return tuple(i for i in self._indexes if i not in taken)

    def held(self, task_id: str, epoch: int) -> tuple[int, ...]:
        return self._held.get((task_id, epoch), ())

    def take(self, task_id: str, epoch: int, count: int) -> tuple[int, ...]:
        """`count` free devices, lowest indexes first; Conflict when too few are free.
        Taking again for an attempt that holds devices returns those it holds."""
        key = (task_id, epoch)
        if key in self._held:
            return self._held[key]
        if count <= 0:
            return ()
        free = self.free()
        if count > len(free):
            raise Conflict(self._shortage(count, free))
        ids = free[:count]
        self._held[key] = ids
        return ids

    def hold(self, task_id: str, epoch: int, ids: Sequence[int]) -> tuple[int, ...]:
        """Mark `ids` as the attempt's again (an attempt adopted after a restart);
        those not offered here or held by another attempt are left out."""
        taken = {i for ids_ in self._held.values() for i in ids_}
        kept = tuple(i for i in ids if i in self._indexes and i not in taken)
        if kept:
            self._held[(task_id, epoch)] = kept
        return kept

    def release(self, task_id: str, epoch: int) -> tuple[int, ...]:
        """Free what the attempt holds (nothing, if it holds nothing); returns it."""
        return self._held.pop((task_id, epoch), ())

    def _shortage(self, count: int, free: tuple[int, ...]) -> str:
        if count > self.total:
            return f"the task needs {count} GPUs; this worker has {self.total}"
        holders = ", ".join(f"{t}/{e}" for t, e in self._held)
        return (
            f"the task needs {count} GPUs; {len(free)} of {self.total} are free (held by {holders})"
        )
