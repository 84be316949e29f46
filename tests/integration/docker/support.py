"""Helpers of the real-dockerd tests."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from cloudai.worker.executors import ExecutionSpec
from cloudai.worker.identity import WorkerIdentity

IMAGE = "cloudai-test:latest"


def task_spec(tmp_path: Path, command: str | list[str] | None, **fields: Any) -> ExecutionSpec:
    """A half-core, 128 MiB run of `command` in the test image, writing under `tmp_path`."""
    values: dict[str, Any] = {
        "task_id": f"t-{uuid.uuid4().hex[:8]}", "epoch": 1, "image": IMAGE,
        "command": command, "cpu": 0.5, "memory_gb": 0.125, "gpu": 0,
        "output_dir": tmp_path / "out", "log_path": tmp_path / "task.log",
    }  # fmt: skip
    values.update(fields)
    return ExecutionSpec(**values)


def new_identity() -> WorkerIdentity:
    unique = uuid.uuid4().hex[:12]
    return WorkerIdentity(f"test-{unique}", f"instance-{unique}", f"cluster-{unique}")
