"""What this machine offers and how busy it is (psutil, run in threads by callers)."""

from __future__ import annotations

from pathlib import Path

import psutil

from cloudai.domain.resources import Resources
from cloudai.domain.workers import Usage

_GB = 1024**3


def detect_capacity(data_dir: Path) -> Resources:
    data_dir.mkdir(parents=True, exist_ok=True)
    return Resources(
        cpu=float(psutil.cpu_count() or 1),
        memory_gb=round(psutil.virtual_memory().total / _GB, 2),
        storage_gb=round(psutil.disk_usage(str(data_dir)).free / _GB, 2),
        gpu=0,  # GPU discovery (NVML) comes with the GPU issue
    )


class UsageSampler:
    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        # The first cpu_percent() call has no interval to compare with; prime it.
        psutil.cpu_percent(interval=None)

    def sample(self) -> Usage:
        return Usage(
            cpu=psutil.cpu_percent(interval=None),
            memory=psutil.virtual_memory().percent,
            storage=psutil.disk_usage(str(self._data_dir)).percent,
            gpu=0.0,
        )
