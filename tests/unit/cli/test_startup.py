"""The HTTP verbs and `--help` start without the server side: none of the master, the
worker, FastAPI, SQLAlchemy, gRPC or the Docker SDK is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("sqlalchemy", "fastapi", "starlette", "grpc", "docker", "uvicorn", "psutil",
         "pydantic_settings", "cloudai.master", "cloudai.worker", "cloudai.api",
         "cloudai.store", "cloudai.launch.run", "cloudai.launch.serve")  # fmt: skip


@pytest.mark.parametrize("args", [["--help"], ["version"], ["list-tasks"], ["up", "--help"]])
def test_light_commands_import_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "CLOUDAI_CONFIG_DIR": str(tmp_path)}  # list-tasks: not logged in
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cloudai", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode in (0, 4), result.stderr  # 4: not logged in
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "cloudai.entry" in imported  # the measurement itself worked
    loaded = sorted(m for m in imported if m.split(".")[0] in HEAVY or m.startswith(HEAVY))
    assert loaded == []
