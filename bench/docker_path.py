"""The Docker path: trivial tasks through a real `cloudai up --executor docker` against
raw `docker run`, one at a time and four at a time.

    .venv/bin/python bench/docker_path.py [--tasks 40] [--repeat 1] [--poll-stats]

CloudAI: `cloudai up --workers 1 --executor docker` in its own process (temporary data
directory, free ports, the admin from CLOUDAI_ADMIN_EMAIL/PASSWORD); N tasks
(`cloudai-test:latest`, `true`) submitted at once, timed from the first submit until
the last is seen completed: each task followed by the master's long poll
(`/api/tasks/{id}/wait`), as a `docker run` caller waits for its container; with
--poll-stats, by polling `/api/stats` every 50 ms instead (which costs the measured
process more the more tasks it stores). "One at a time": each task asks for all of the
worker's CPUs; "four at a time": a quarter of them. Baseline, same run: `docker run --rm
--network none cloudai-test:latest true` N times, serially and from four threads. Every
container started here carries a label unique to the run (CloudAI's: its
`cloudai.cluster_id`), and only those are removed at the end. BENCH_PROFILE=FILE: py-spy
of the `cloudai up` process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from control_plane import EMAIL, PASSWORD, free_port, ready, submit_many, until_completed

IMAGE = "cloudai-test:latest"
RAW_LABEL = "cloudai.bench.run"
PHASES = ("assigned", "running", "completed")  # queued->assigned: waiting for the others
ENDED = ("completed", "failed", "cancelled")


@contextlib.contextmanager
def up_process(data_dir: Path, executor: str, *, log: Path | None = None) -> Iterator[int]:
    """`cloudai up --workers 1 --executor EXECUTOR` in its own process; yields its HTTP port."""
    http_port, grpc_port = free_port(), free_port()
    env = {**os.environ, "CLOUDAI_ADMIN_EMAIL": EMAIL, "CLOUDAI_ADMIN_PASSWORD": PASSWORD,
           "CLOUDAI_DATA_DIR": str(data_dir), "CLOUDAI_HTTP_PORT": str(http_port),
           "CLOUDAI_GRPC_PORT": str(grpc_port),
           "CLOUDAI_MAX_QUEUED_PER_USER": "1000000"}  # fmt: skip
    command = [sys.executable, "-m", "cloudai", "up", "--workers", "1", "--executor", executor]
    out = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        if os.environ.get("BENCH_PROFILE"):  # py-spy of `cloudai up`, into this file
            subprocess.Popen(["py-spy", "record", "-o", os.environ["BENCH_PROFILE"], "-f", "raw",
                              "-p", str(process.pid), "-r", "50"])  # fmt: skip
        yield http_port
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl-C: workers and their containers first
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            out.close()  # type: ignore[union-attr]


@contextlib.asynccontextmanager
async def up_client(data_dir: Path, executor: str) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """A logged-in client of a fresh `cloudai up`, and its one worker (JSON) once online."""
    with up_process(data_dir, executor, log=data_dir.parent / "up.log") as port:
        client = await ready(f"http://127.0.0.1:{port}")
        try:
            yield client, await online_worker(client)
        finally:
            await client.aclose()


async def online_worker(client: httpx.AsyncClient) -> Any:
    for _ in range(600):
        answer = (await client.get("/api/workers")).json()
        listed = answer["workers"] if isinstance(answer, dict) else answer
        if listed:
            return listed[0]
        await asyncio.sleep(0.1)  # a benchmark may poll the worker's start
    raise RuntimeError("no worker registered within 60 s")


async def until_each_ended(client: httpx.AsyncClient, ids: list[str]) -> float:
    """When the last of `ids` was seen completed, each followed by the master's long
    poll (`/api/tasks/{id}/wait`: answered on the task's own events, no polling)."""

    async def one(task_id: str) -> float:
        status = ""
        while status not in ENDED:
            answer = await client.get(f"/api/tasks/{task_id}/wait", params={"timeout": 300})
            status = answer.raise_for_status().json()["status"]
        if status != "completed":
            raise RuntimeError(f"task {task_id} ended {status}")
        return time.perf_counter()

    return max(await asyncio.gather(*(one(task_id) for task_id in ids)))


async def cloudai_rate(client: httpx.AsyncClient, cpu: float, count: int, done: int,
                       phases: list[dict[str, datetime]] | None = None,
                       poll_stats: bool = False) -> float:  # fmt: skip
    """Tasks/s; with `phases`, each task's time in each status is appended to it.
    `poll_stats`: the end is seen by polling `/api/stats` every 50 ms instead (the
    earlier method: that polling's cost, in the measured process, grows with the tasks
    stored)."""
    body = {"docker_image": IMAGE, "command": "true", "cpu_required": cpu,
            "memory_required": 0.05}  # fmt: skip
    began = time.perf_counter()
    ids = await submit_many(client, count, body)
    if poll_stats:
        ended = await until_completed(client, done + count)
    else:
        ended = await until_each_ended(client, ids)
    if phases is not None:
        phases += [await status_times(client, task_id) for task_id in ids]
    return count / (ended - began)


async def status_times(client: httpx.AsyncClient, task_id: str) -> dict[str, datetime]:
    """When the task entered each status (its events; start-up steps left out)."""
    events = (await client.get(f"/api/tasks/{task_id}")).json()["events"]
    return {e["to_status"]: datetime.fromisoformat(e["at"]) for e in events}


def phase_line(tasks: list[dict[str, datetime]], chained: bool = True) -> str:
    """Median ms in each status; `chained` (one at a time): and from one task's
    completion to the next's assignment."""
    if not tasks:
        return ""
    ms: dict[str, list[float]] = {}
    for at in tasks:
        for a, b in itertools.pairwise(PHASES):
            ms.setdefault(f"{a}->{b}", []).append((at[b] - at[a]).total_seconds() * 1000)
    if chained:
        chain = sorted(tasks, key=lambda at: at["assigned"])
        gaps = [(b["assigned"] - a["completed"]) for a, b in itertools.pairwise(chain)]
        ms["completed->next assigned"] = [gap.total_seconds() * 1000 for gap in gaps]
    return ", ".join(f"{k} {statistics.median(v):.0f} ms" for k, v in ms.items() if v)


def raw_rate(count: int, parallel: int, label: str) -> float:
    """`docker run --rm` N times, `parallel` at once."""
    command = ["docker", "run", "--rm", "--network", "none", "--label", f"{RAW_LABEL}={label}",
               IMAGE, "true"]  # fmt: skip

    def one(_: int) -> None:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    began = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, range(count)))
    return count / (time.perf_counter() - began)


def remove_containers(selector: str) -> None:
    """Only the containers this run started (raw ones and CloudAI's, by label)."""
    listing = ["docker", "ps", "-aq", "--filter", f"label={selector}"]
    found = subprocess.run(listing, capture_output=True, text=True, check=True).stdout.split()
    if found:
        subprocess.run(["docker", "rm", "-f", *found], check=False, capture_output=True)


async def interleaved(args: argparse.Namespace, tmp: Path, label: str,
                      clusters: list[str]) -> dict[str, list[float]]:  # fmt: skip
    """Each run: raw one at a time, CloudAI one at a time, raw four, CloudAI four (so
    that a change in the machine's load falls on both alike)."""
    rates: dict[str, list[float]] = {"raw1": [], "up1": [], "raw4": [], "up4": []}
    phases: list[dict[str, datetime]] = []
    phases4: list[dict[str, datetime]] = []
    async with up_client(tmp / "up", "docker") as (client, worker):
        clusters.append((tmp / "up" / "cluster-id").read_text().strip())
        cpu = float(worker["total_resources"]["cpu"])
        done = 0
        for _ in range(args.repeat):
            rates["raw1"].append(await asyncio.to_thread(raw_rate, args.tasks, 1, label))
            rates["up1"].append(
                await cloudai_rate(client, cpu, args.tasks, done, phases, args.poll_stats)
            )
            rates["raw4"].append(await asyncio.to_thread(raw_rate, args.tasks, 4, label))
            rates["up4"].append(
                await cloudai_rate(
                    client, cpu / 4, args.tasks, done + args.tasks, phases4, args.poll_stats
                )
            )
            done += 2 * args.tasks
    print(f"one at a time, median per task: {phase_line(phases)}")
    print(f"four at a time, median per task: {phase_line(phases4, chained=False)}")
    return rates


async def main(args: argparse.Namespace) -> None:
    label = uuid.uuid4().hex
    clusters: list[str] = []  # CloudAI's cluster id, once known
    try:
        with tempfile.TemporaryDirectory() as name:
            rates = await interleaved(args, Path(name), label, clusters)
    finally:
        remove_containers(f"{RAW_LABEL}={label}")
        for cluster in clusters:
            remove_containers(f"cloudai.cluster_id={cluster}")
    best = max  # the least disturbed of the runs on a shared machine

    def row(name: str, rates: list[float]) -> None:
        shown = ", ".join(f"{r:.2f}" for r in rates)
        print(f"{name:36s} {best(rates):7.2f} tasks/s  (runs: {shown})")

    print(f"{args.tasks} trivial tasks ({IMAGE}, true) per run, {args.repeat} run(s); best of runs")
    seen = "polling /api/stats" if args.poll_stats else "waiting on each task"
    print(f"the end of a run seen by {seen}")
    row("raw docker run, one at a time", rates["raw1"])
    row("cloudai up (docker), one at a time", rates["up1"])
    row("raw docker run, four at a time", rates["raw4"])
    row("cloudai up (docker), four at a time", rates["up4"])
    for label, ours, raw in (("one at a time", "up1", "raw1"), ("concurrency 4", "up4", "raw4")):
        each = ", ".join(f"{u / r:.2f}" for u, r in zip(rates[ours], rates[raw], strict=True))
        ratio = best(rates[ours]) / best(rates[raw])
        print(f"docker path vs raw docker run at {label}: {ratio:.2f}x (each run: {each})")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--poll-stats", action="store_true",
                        help="see the end by polling /api/stats (the earlier method)")  # fmt: skip
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
