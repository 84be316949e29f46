"""Each benchmark runs, small, so the benchmarks keep working (their figures are in
BENCHMARKS.md; speed is never asserted here). Each must finish and print its baseline
comparison, which every benchmark prints last."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

SMOKE = {
    "policies": (["--tasks", "300", "--workers", "10", "--repeat", "1"], "vs seed planner"),
    "simulate": (["--tasks", "200", "--workers", "5"], "round_robin"),
    "list_tasks": (["--tasks", "2000", "--repeat", "2"], "by offset (baseline)"),
    "cli_startup": (["--runs", "2", "--warmup", "0"], "cloudai --help"),
    "worker_rss": (["--settle", "1"], "only its modules imported"),
    "docker_path": (["--tasks", "2"], "docker path vs raw docker run at concurrency 4"),
    "outputs": (["--sizes", "4", "--files", "10"], "outputs vs raw loopback copy"),
    "logs_ws": (
        ["--mb", "1", "--paced-mb", "0.2", "--rate-mb", "1"],
        "websocket vs log file at full speed",
    ),
    "heartbeats": (
        ["--workers", "20", "--period", "1", "--seconds", "2"],
        "cloudai master vs bare grpc.aio",
    ),
    "control_plane": (
        [
            "--tasks",
            "40",
            "--workers",
            "2",
            "--offered",
            "20",
            "--offered-s",
            "1",
            "--queued",
            "20,40",
            "--waiters",
            "5",
            "--followers",
            "5",
        ],
        "drain vs raw sqlite3 commits",
    ),
}


@pytest.mark.parametrize("name", sorted(SMOKE))
def test_the_benchmark_runs_and_reports_its_baseline(name: str) -> None:
    arguments, expected = SMOKE[name]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), *arguments],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert expected in done.stdout, done.stdout[-3000:]
