"""What the worker's unit tests share."""

from __future__ import annotations

import uuid
from pathlib import Path

from cloudai.worker.executors import ExecutionSpec


def trivial_spec(tmp_path: Path, image: str = "img:1") -> ExecutionSpec:
    """A `true` task in a run directory of its own under `tmp_path`."""
    run_dir = tmp_path / uuid.uuid4().hex[:8]
    return ExecutionSpec(
        task_id=f"t-{run_dir.name}", epoch=1, image=image, command="true", cpu=1,
        memory_gb=0.1, gpu=0, output_dir=run_dir / "out", log_path=run_dir / "task.log",
    )  # fmt: skip
