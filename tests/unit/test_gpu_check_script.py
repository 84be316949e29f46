"""scripts/gpu_check.py runs only on a GPU machine; its helpers run anywhere."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from cloudai.worker.gpus import FakeGpuProbe

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script()


def test_help_works() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "--timeout" in result.stdout


def test_parse_args(script: ModuleType) -> None:
    args = script.parse_args(["--timeout", "5", "--keep"])
    assert (args.timeout, args.keep, args.verbose) == (5.0, True, False)


def test_the_cuda_program_output_is_read(script: ModuleType) -> None:
    log = "CUDA_VISIBLE_DEVICES='0'\ncuda: rc=0 devices=1\n"
    assert (script.visible_devices(log), script.visible_env(log)) == (1, "0")
    hidden = "CUDA_VISIBLE_DEVICES=''\ncuda: rc=0 devices=0\n"
    assert (script.visible_devices(hidden), script.visible_env(hidden)) == (0, "")
    failed = "CUDA_VISIBLE_DEVICES=None\ncuda: rc=999 devices=0\n"
    assert (script.visible_devices(failed), script.visible_env(failed)) == (None, None)


def test_the_cuda_program_says_when_there_is_no_cuda(script: ModuleType) -> None:
    result = subprocess.run(
        [sys.executable, "-c", script.CUDA_PROGRAM],
        capture_output=True, text=True, check=False, env={"CUDA_VISIBLE_DEVICES": ""},
    )  # fmt: skip
    if result.returncode == 2:  # no driver here, as in CI
        assert result.stdout == "cuda: libcuda not found\n"
    else:  # a GPU machine: every device hidden
        assert script.visible_devices(result.stdout) == 0, result.stdout


def test_task_body(script: ModuleType) -> None:
    body = script.task_body(1)
    assert body["gpu_required"] == 1
    assert body["command"] == [sys.executable, "-c", script.CUDA_PROGRAM]
    assert script.task_body(0, "print(1)")["command"][-1] == "print(1)"


def test_checks_count_failures(script: ModuleType) -> None:
    lines: list[str] = []
    checks = script.Checks(out=lines.append)
    assert checks.check("one", True) and checks.exit_code == 0
    assert not checks.check("two", False, "why")
    assert (lines, checks.exit_code) == (["PASS one", "FAIL two: why"], 1)


def test_without_a_gpu_it_fails_at_the_first_check(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(script, "NvmlProbe", FakeGpuProbe)  # no devices
    assert script.main([]) == 1
    assert capsys.readouterr().out.splitlines() == ["FAIL NVML finds a GPU: none", "FAIL 1 checks"]
