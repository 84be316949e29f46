"""A worker process's memory: RSS (psutil) of `cloudai worker`, idle after start, against
the baseline of a process that only imports the worker's own modules, in the same run.

    .venv/bin/python bench/worker_rss.py [--settle 4] [--baseline-src OTHER_TREE/src]

The worker points at a master that is not there (it keeps retrying, idle), runs the
process executor and a temporary data directory. `--baseline-src` also measures another
source tree (say, an older commit's) the same way.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

SRC = Path(__file__).resolve().parents[1] / "src"
ONLY_IMPORTS = "import time, cloudai.worker.app, cloudai.worker.executors.process; time.sleep(60)"


def rss_mib(command: list[str], src: Path, settle_s: float) -> float:
    env = {**os.environ, "PYTHONPATH": str(src), "CLOUDAI_JOIN_TOKEN": "b" * 32,
           "CLOUDAI_EXECUTOR": "process"}  # fmt: skip
    with tempfile.TemporaryDirectory() as data_dir:
        env["CLOUDAI_DATA_DIR"] = data_dir
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            time.sleep(settle_s)  # a benchmark lets the process settle
            return float(psutil.Process(process.pid).memory_info().rss) / 2**20
        finally:
            process.terminate()
            process.wait(30)


def measure(src: Path, settle_s: float) -> tuple[float, float]:
    worker = [sys.executable, "-m", "cloudai", "worker", "--master", "127.0.0.1:9", "--port", "0"]
    return rss_mib(worker, src, settle_s), rss_mib([sys.executable, "-c", ONLY_IMPORTS], src,
                                                   settle_s)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=4.0)
    parser.add_argument("--baseline-src", type=Path)
    args = parser.parse_args()
    trees = [("this tree", SRC)] + (
        [("baseline tree", args.baseline_src)] if args.baseline_src else []
    )
    for name, src in trees:
        worker, imports = measure(src, args.settle)
        print(f"{name}: worker {worker:.0f} MiB, only its modules imported {imports:.0f} MiB, "
              f"ratio {worker / imports:.2f}x (target <= 1.3x)")  # fmt: skip


if __name__ == "__main__":
    main()
