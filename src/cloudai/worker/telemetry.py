"""What this machine offers and how busy it is (psutil and NVML, run in threads by
callers)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import psutil

from cloudai.domain.resources import Resources
from cloudai.domain.workers import Usage
from cloudai.worker.gpus import FakeGpuProbe, GpuDevice, GpuProbe

_GB = 1024**3


def detect_capacity(data_dir: Path, gpus: Sequence[GpuDevice] = ()) -> Resources:
    """This machine's resources; `gpus` is what the GPU probe found."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return Resources(
        cpu=float(psutil.cpu_count() or 1),
        memory_gb=round(psutil.virtual_memory().total / _GB, 2),
        storage_gb=round(psutil.disk_usage(str(data_dir)).free / _GB, 2),
        gpu=len(gpus),
    )


class UsageSampler:
    def __init__(self, data_dir: Path, gpus: GpuProbe | None = None) -> None:
        self._data_dir = data_dir
        self._gpus: GpuProbe = gpus or FakeGpuProbe()
        # The first cpu_percent() call has no interval to compare with; prime it.
        psutil.cpu_percent(interval=None)

    def sample(self) -> Usage:
        return Usage(
            cpu=psutil.cpu_percent(interval=None),
            memory=psutil.virtual_memory().percent,
            storage=psutil.disk_usage(str(self._data_dir)).percent,
            gpu=self._gpu_percent(),
        )

    def _gpu_percent(self) -> float:
        """The mean busy share over every device; 0 without GPUs."""
        busy = [gpu for gpu, _memory in self._gpus.utilisation()]
        return round(sum(busy) / len(busy), 2) if busy else 0.0
