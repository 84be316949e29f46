"""GPU discovery (NVML, or a fake inventory), utilisation, and device allocation."""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from cloudai.config import MasterSettings, WorkerSettings
from cloudai.domain.errors import Conflict
from cloudai.launch import serve
from cloudai.worker.gpus import (
    FakeGpuProbe,
    GpuAllocator,
    GpuDevice,
    NvmlProbe,
    build_probe,
    offered_indexes,
)
from cloudai.worker.telemetry import UsageSampler, detect_capacity

# -- the allocator ------------------------------------------------------------------------


def test_take_hands_out_the_lowest_free_devices() -> None:
    gpus = GpuAllocator([3, 0, 2, 1])
    assert gpus.take("a", 1, 2) == (0, 1)
    assert gpus.take("b", 1, 1) == (2,)
    assert gpus.free() == (3,)
    assert gpus.held("a", 1) == (0, 1)


def test_no_device_is_ever_held_by_two_attempts() -> None:
    gpus = GpuAllocator(range(4))
    held: dict[tuple[str, int], tuple[int, ...]] = {}
    # Take and release in an interleaved order; the held sets must stay disjoint.
    for step, (task, count) in enumerate([("a", 1), ("b", 2), ("c", 1), ("a", 0), ("d", 1)]):
        if count == 0:
            gpus.release(task, 1)
            held.pop((task, 1))
            continue
        held[(task, 1)] = gpus.take(task, 1, count)
        ids = [i for devices in held.values() for i in devices]
        assert len(ids) == len(set(ids)), f"shared after step {step}: {held}"
    assert sorted(i for devices in held.values() for i in devices) == [0, 1, 2, 3]


def test_refuses_when_too_few_are_free_and_changes_nothing() -> None:
    gpus = GpuAllocator([0, 1])
    gpus.take("a", 1, 1)
    with pytest.raises(Conflict, match=r"needs 2 GPUs; 1 of 2 are free \(held by a/1\)"):
        gpus.take("b", 1, 2)
    with pytest.raises(Conflict, match="this worker has 2"):
        gpus.take("c", 1, 3)
    assert gpus.free() == (1,)
    assert gpus.held("b", 1) == ()


def test_release_is_idempotent_and_frees_for_the_next() -> None:
    gpus = GpuAllocator([0])
    gpus.take("a", 1, 1)
    assert gpus.release("a", 1) == (0,)
    assert gpus.release("a", 1) == ()
    assert gpus.release("never", 7) == ()
    assert gpus.take("b", 2, 1) == (0,)


def test_zero_gpus_take_nothing_and_taking_twice_returns_the_same() -> None:
    gpus = GpuAllocator()
    assert gpus.take("a", 1, 0) == ()
    assert gpus.total == 0
    two = GpuAllocator([0, 1])
    assert two.take("a", 1, 1) == two.take("a", 1, 1) == (0,)
    assert two.free() == (1,)


def test_epochs_are_separate_attempts() -> None:
    gpus = GpuAllocator([0, 1])
    assert gpus.take("a", 1, 1) == (0,)
    assert gpus.take("a", 2, 1) == (1,)
    gpus.release("a", 1)
    assert gpus.held("a", 2) == (1,)


# -- what is offered ----------------------------------------------------------------------

DEVICES = FakeGpuProbe.with_count(3).devices()


@pytest.mark.parametrize(
    ("setting", "expected"),
    [(None, (0, 1, 2)), (0, ()), (2, (0, 1)), (3, (0, 1, 2)), (5, (0, 1, 2, 3, 4))],
)
def test_offered_indexes(setting: int | None, expected: tuple[int, ...]) -> None:
    assert offered_indexes(DEVICES, setting) == expected


def test_build_probe_uses_the_fake_inventory_when_configured() -> None:
    probe = build_probe(WorkerSettings(fake_gpus=2).fake_gpus)
    assert isinstance(probe, FakeGpuProbe)
    assert [d.index for d in probe.devices()] == [0, 1]
    assert isinstance(build_probe(WorkerSettings().fake_gpus), NvmlProbe)


def test_fake_gpus_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDAI_WORKER_FAKE_GPUS", "4")
    assert WorkerSettings().fake_gpus == 4


def test_capacity_counts_the_probed_devices(tmp_path: Path) -> None:
    assert detect_capacity(tmp_path, DEVICES).gpu == 3
    assert detect_capacity(tmp_path).gpu == 0


def test_usage_reports_the_mean_gpu_utilisation(tmp_path: Path) -> None:
    probe = FakeGpuProbe(DEVICES[:2], [(30.0, 10.0), (90.0, 50.0)])
    assert UsageSampler(tmp_path, probe).sample().gpu == 60.0
    assert UsageSampler(tmp_path, FakeGpuProbe()).sample().gpu == 0.0
    assert UsageSampler(tmp_path).sample().gpu == 0.0


# -- NVML -----------------------------------------------------------------------------------


class _NVMLError(Exception):
    pass


def _fake_pynvml(count: int = 2, init_error: bool = False) -> types.ModuleType:
    """Enough of pynvml's surface for NvmlProbe, with `count` devices."""
    nvml: Any = types.ModuleType("pynvml")
    nvml.NVMLError = _NVMLError

    def init() -> None:
        if init_error:
            raise _NVMLError("Driver Not Loaded")

    nvml.nvmlInit = init
    nvml.nvmlDeviceGetCount = lambda: count
    nvml.nvmlDeviceGetHandleByIndex = lambda i: i
    nvml.nvmlDeviceGetUUID = lambda h: f"GPU-{h}"
    nvml.nvmlDeviceGetName = lambda h: b"NVIDIA Test" if h else "NVIDIA Test"
    nvml.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(
        total=80 * 1024**3, used=20 * 1024**3 * h
    )
    nvml.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=40 + 20 * h)
    return nvml  # type: ignore[no-any-return]


def test_nvml_devices_and_utilisation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml())
    probe = NvmlProbe()
    assert probe.devices() == [
        GpuDevice(0, "GPU-0", "NVIDIA Test", 80.0),
        GpuDevice(1, "GPU-1", "NVIDIA Test", 80.0),  # bytes from older pynvml, decoded
    ]
    assert probe.utilisation() == [(40.0, 0.0), (60.0, 25.0)]


def test_nvml_without_the_library_reports_no_devices(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    caplog.set_level(logging.INFO, logger="cloudai.worker.gpus")
    probe = NvmlProbe()
    assert probe.devices() == [] and probe.utilisation() == [] and probe.devices() == []
    assert [r.getMessage() for r in caplog.records] == [
        "no GPUs offered (NVML: nvidia-ml-py (pynvml) is not installed)"
    ]


def test_nvml_without_a_gpu_reports_no_devices(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(init_error=True))
    caplog.set_level(logging.INFO, logger="cloudai.worker.gpus")
    probe = NvmlProbe()
    assert probe.devices() == [] and probe.utilisation() == []
    assert [r.getMessage() for r in caplog.records] == ["no GPUs offered (NVML: Driver Not Loaded)"]


def test_an_nvml_error_later_means_no_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml: Any = _fake_pynvml()

    def lost(handle: int) -> None:
        raise _NVMLError("GPU is lost")

    nvml.nvmlDeviceGetUtilizationRates = lost
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    probe = NvmlProbe()
    assert len(probe.devices()) == 2
    assert probe.utilisation() == []


def test_local_workers_never_offer_the_same_gpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDAI_WORKER_GPU", "2")
    master: Any = types.SimpleNamespace(
        settings=MasterSettings(data_dir=tmp_path), grpc_port=1, cluster_id="cluster-abc123",
        secrets=types.SimpleNamespace(join_token="t"),
    )  # fmt: skip
    workers = serve._local_workers(master, 3, "process")
    # The first keeps what it is told (or finds); the others offer none.
    assert [w.gpu for w in workers] == [2, 0, 0]
