"""The README's walkthrough works exactly as written: its `sh` blocks, in order, run in
bash against a fresh `cloudai up` (the README reads `$API` and `CLOUDAI_*` variables,
which point it here at free ports and temporary directories)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cluster import clean_env, start_up

pytestmark = pytest.mark.docker

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    section = text[text.index("## Five-minute walkthrough") : text.index("### More machines")]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 5, "the walkthrough lost its shell blocks"
    return "\n".join(blocks)


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    cluster = start_up(tmp_path / "up", "--workers", "1", "--executor", "docker")
    try:
        script = "set -euo pipefail\n" + walkthrough()
        bin_dir = str(Path(sys.executable).parent)  # where `cloudai` is installed
        env = clean_env(
            API=cluster.base_url, CLOUDAI_CONFIG_DIR=str(tmp_path / "config"),
            CLOUDAI_PASSWORD="correct-horse", PATH=f"{bin_dir}:/usr/bin:/bin",
        )  # fmt: skip
        work = tmp_path / "work"
        work.mkdir()
        ran = subprocess.run(
            ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True,
            timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "hello" in ran.stdout and '"status":"cancelled"' in ran.stdout
        assert "exit status 3" in ran.stdout and ran.stdout.rstrip().endswith("fast")
        assert (work / "answer.txt").read_text() == "42\n"
    finally:
        cluster.stop()
