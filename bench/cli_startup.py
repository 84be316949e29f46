"""How long the `cloudai` CLI takes to start, next to a bare `python -c pass`.

Each command runs as a fresh process `--runs` times (after `--warmup` untimed runs),
interleaved so that a busy moment of the machine hits every command alike; the table
gives the median, the 90th percentile and the minimum wall time, the median minus that
of `python -c pass` (the CLI's own start), and the median CPU time (user + system, which
a busy machine inflates far less than wall time). `list-tasks` asks a stub master on a free
loopback port (three tasks); `completion` is one TAB of bash completion (`cloudai wor`).

    .venv/bin/python bench/cli_startup.py [--runs 30] [--baseline-src /tmp/old/src]

`--baseline-src` also times the same commands with PYTHONPATH set to another source tree
(an older commit's `src`, e.g. from `git archive`), in the same interleaved run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TASKS = {
    "tasks": [
        {"task_id": f"task-{i:04d}", "name": "bench", "status": "completed", "worker_id": "w-1",
         "exit_code": 0, "created_at": "2026-12-01T10:00:00Z"}
        for i in range(3)
    ],
    "next_cursor": None,
}  # fmt: skip


class _Stub(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(TASKS if self.path.startswith("/api/tasks") else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)  # fmt: skip
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{argv} exited {child.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--baseline-src", help="also time this source tree (PYTHONPATH)")
    options = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    config = tempfile.mkdtemp(prefix="cloudai-bench-")
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDAI_")}
    base |= {"CLOUDAI_URL": url, "CLOUDAI_TOKEN": "bench", "CLOUDAI_CONFIG_DIR": config}
    base.pop("PYTHONPATH", None)
    complete = {"_CLOUDAI_COMPLETE": "complete_bash", "COMP_WORDS": "cloudai wor",
                "COMP_CWORD": "1"}  # fmt: skip
    cli = [sys.executable, "-m", "cloudai"]
    commands: list[tuple[str, list[str], dict[str, str]]] = [
        ("python -c pass", [sys.executable, "-c", "pass"], base),
        ("cloudai --help", [*cli, "--help"], base),
        ("cloudai list-tasks (stub master)", [*cli, "list-tasks"], base),
        ("cloudai wor<TAB> (bash completion)", cli, base | complete),
    ]
    if options.baseline_src:
        old = base | {"PYTHONPATH": options.baseline_src}
        commands += [
            ("baseline: cloudai --help", [*cli, "--help"], old),
            ("baseline: cloudai list-tasks (stub)", [*cli, "list-tasks"], old),
        ]
    for _, argv, env in commands:
        for _ in range(options.warmup):
            _time(argv, env)
    wall: dict[str, list[float]] = {label: [] for label, _, _ in commands}
    cpu: dict[str, list[float]] = {label: [] for label, _, _ in commands}
    for _ in range(options.runs):
        for label, argv, env in commands:
            elapsed, used = _time(argv, env)
            wall[label].append(elapsed)
            cpu[label].append(used)
    server.shutdown()

    bare = statistics.median(wall["python -c pass"])
    bare_cpu = statistics.median(cpu["python -c pass"])
    python = sys.version.split()[0]
    print(f"{options.runs} runs each, interleaved; ms; python {python}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    print("wall: median, p90, min, median - python's; cpu (user+sys): median, - python's")
    print(f"{'command':<38} {'median':>7} {'p90':>7} {'min':>7} {'-python':>8} "
          f"{'cpu':>6} {'-python':>8}")  # fmt: skip
    for label, values in wall.items():
        median, used = statistics.median(values), statistics.median(cpu[label])
        first = label == "python -c pass"
        own = "" if first else f"{(median - bare) * 1000:8.0f}"
        own_cpu = "" if first else f"{(used - bare_cpu) * 1000:8.0f}"
        print(f"{label:<38} {median * 1000:7.0f} {_p90(values) * 1000:7.0f} "
              f"{min(values) * 1000:7.0f} {own:>8} {used * 1000:6.0f} {own_cpu:>8}")  # fmt: skip


if __name__ == "__main__":
    main()
