"""Outputs shipped worker -> master: one big file and many files, against a raw loopback
copy of the same bytes, with the peak memory of the master and the worker.

    .venv/bin/python bench/outputs.py [--sizes 256,1024] [--files 1000] [--repeat 1]

The master (its own process, `run_master` as in control_plane.py) and one worker (its
own process, `cloudai worker --executor process`) on loopback gRPC. Each task's command
hard-links prepared files into `$CLOUDAI_OUTPUT_DIR` (`cp -al`: no bytes move, so the
task itself takes milliseconds and Docker is no part of it); what is timed is the
worker's part after the task exits (scan; read, hash and upload each file in one pass,
in chunks over gRPC) and the master's (receive, write and hash, record): the task's
`running` -> `completed` events. Cases: each size in `--sizes` (MiB) as one file, the
largest also as `--files` files, and a task with no outputs (the fixed cost of an
attempt); `sync` before each transfer. Peak RSS of both processes (psutil, sampled
every 10 ms) for each case; "memory flat in file size" compares the peaks across sizes.
CPU seconds (user + system) of each process in each case: on a shared machine the
throughput moves with the load, the CPU spent much less.
py-spy: BENCH_PROFILE=FILE (master), BENCH_PROFILE_WORKER=FILE (worker).

Baseline, same run: the same bytes over a plain TCP socket on 127.0.0.1 (one thread
reads each file in 1 MiB blocks and `sendall`s it with a small name/size header;
another receives and writes it into a second directory), no hashing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from control_plane import JOIN_TOKEN, free_port, master_process, ready
from docker_path import online_worker

MIB = 1024 * 1024
HEADER = struct.Struct("!HQ")  # name length, size


def prepare(root: Path, size_mib: int, files: int) -> Path:
    """`files` files of `size_mib / files` MiB together, in a new directory."""
    root.mkdir(parents=True)
    block = os.urandom(MIB)
    each = size_mib * MIB // files
    for n in range(files):
        with (root / f"f{n:04d}.bin").open("wb") as handle:
            left = each
            while left:
                left -= handle.write(block[: min(left, MIB)])
    return root


@contextlib.contextmanager
def worker_process(grpc_port: int, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "cloudai", "worker", "--master", f"127.0.0.1:{grpc_port}",
               "--port", str(free_port()), "--id", "bench-outputs-w", "--executor", "process",
               "--data-dir", str(data_dir), "--log-level", "warning"]  # fmt: skip
    env = {**os.environ, "CLOUDAI_JOIN_TOKEN": JOIN_TOKEN, "CLOUDAI_WORKER_CPU": "2",
           "CLOUDAI_WORKER_MEMORY_GB": "4", "CLOUDAI_WORKER_STORAGE_GB": "64"}  # fmt: skip
    process = subprocess.Popen(command, env=env)
    try:
        if os.environ.get("BENCH_PROFILE_WORKER"):  # py-spy of the worker, into this file
            subprocess.Popen(["py-spy", "record", "-o", os.environ["BENCH_PROFILE_WORKER"], "-f",
                              "raw", "--threads", "-p", str(process.pid), "-r", "100"])  # fmt: skip
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


class PeakRss:
    """The largest RSS of each process while the block runs (sampled every 10 ms), and
    the CPU seconds (user + system, all threads) each spent in it."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = {name: 0 for name in pids}
        self.cpu = {name: 0.0 for name in pids}
        self._stop = threading.Event()

    def _cpu_seconds(self) -> dict[str, float]:
        return {name: sum(proc.cpu_times()[:2]) for name, proc in self._procs.items()}

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, proc in self._procs.items():
                self.peak[name] = max(self.peak[name], proc.memory_info().rss)
            self._stop.wait(0.01)

    def __enter__(self) -> PeakRss:
        self._cpu_at_start = self._cpu_seconds()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu = {n: s - self._cpu_at_start[n] for n, s in self._cpu_seconds().items()}


async def ship(client: httpx.AsyncClient, source: Path | None) -> tuple[float, int]:
    """(seconds running -> completed, bytes the master stored) of one task."""
    command = f'cp -al "{source}/." "$CLOUDAI_OUTPUT_DIR/"' if source else "true"
    body = {"docker_image": "img", "command": command, "cpu_required": 1,
            "memory_required": 0.5, "storage_required": 4}  # fmt: skip
    answer = await client.post("/api/tasks", json=body)
    answer.raise_for_status()
    task_id = answer.json()["task_id"]
    task = await final(client, task_id)
    if task["status"] != "completed":
        raise RuntimeError(f"task {task_id} ended {task['status']}: {task.get('reason')}")
    at = {e["to_status"]: datetime.fromisoformat(e["at"]) for e in task["events"]}
    stored = (await client.get(f"/api/files/{task_id}")).json()["total_size"]
    return (at["completed"] - at["running"]).total_seconds(), stored


async def final(client: httpx.AsyncClient, task_id: str) -> Any:
    """The task once it is final (JSON, with its events)."""
    finals = ("completed", "failed", "cancelled")
    params: dict[str, str | int] = {"until": ",".join(finals), "timeout": 60}
    while True:
        waited = await client.get(f"/api/tasks/{task_id}/wait", params=params)
        waited.raise_for_status()
        if waited.json()["status"] in finals:
            return waited.json()


def raw_copy(source: Path, dest: Path) -> float:
    """Seconds to copy every file of `source` into `dest` over a loopback TCP socket."""
    dest.mkdir(parents=True)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def receive() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as stream:
            while header := stream.read(HEADER.size):
                length, size = HEADER.unpack(header)
                with (dest / stream.read(length).decode()).open("wb") as out:
                    while size:
                        size -= out.write(stream.read(min(size, MIB)))

    receiver = threading.Thread(target=receive)
    receiver.start()
    began = time.perf_counter()
    buffer = bytearray(MIB)
    with socket.create_connection(("127.0.0.1", port)) as conn:
        for path in sorted(source.iterdir()):
            name = path.name.encode()
            conn.sendall(HEADER.pack(len(name), path.stat().st_size) + name)
            with path.open("rb", buffering=0) as handle:
                while count := handle.readinto(buffer):
                    conn.sendall(memoryview(buffer)[:count])
    receiver.join()
    listener.close()
    return time.perf_counter() - began


async def run_case(client: httpx.AsyncClient, pids: dict[str, int], source: Path | None,
                   scratch: Path, expected: int,
                   ) -> tuple[float, float, PeakRss]:  # fmt: skip
    """(CloudAI MiB/s, raw MiB/s, peak RSS and CPU by process) for one case."""
    os.sync()  # each transfer starts with no dirty pages of the one before
    with PeakRss(pids) as rss:
        seconds, stored = await ship(client, source)
    if stored != expected:
        raise RuntimeError(f"the master stored {stored} bytes, not {expected}")
    if source is None:
        return seconds, 0.0, rss
    os.sync()
    raw = raw_copy(source, scratch)
    shutil.rmtree(scratch)
    return expected / MIB / seconds, expected / MIB / raw, rss


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        cases: list[tuple[str, Path | None, int]] = [("no outputs (fixed cost)", None, 0)]
        for size in args.sizes:
            cases.append(
                (f"{size} MiB, one file", prepare(tmp / f"one{size}", size, 1), size * MIB)
            )
        biggest = max(args.sizes)
        many = prepare(tmp / "many", biggest, args.files)
        cases.append((f"{biggest} MiB, {args.files} files", many, biggest * MIB // args.files
                      * args.files))  # fmt: skip
        with master_process(tmp / "master", None) as (http_port, grpc_port, master):
            client = await ready(f"http://127.0.0.1:{http_port}")
            with worker_process(grpc_port, tmp / "worker") as worker:
                await online_worker(client)
                pids = {"master": master.pid, "worker": worker.pid}
                idle = {n: psutil.Process(p).memory_info().rss for n, p in pids.items()}
                results = []
                for _ in range(args.repeat):
                    for label, source, expected in cases:
                        scratch = tmp / "scratch"
                        outcome = await run_case(client, pids, source, scratch, expected)
                        results.append((label, *outcome))
            await client.aclose()
    report(results, idle)


def report(results: list[tuple[str, float, float, PeakRss]],
           idle: dict[str, int]) -> None:  # fmt: skip
    print(f"idle RSS: master {idle['master'] / MIB:.0f} MiB, worker {idle['worker'] / MIB:.0f} MiB")
    print(f"{'case':28s} {'cloudai MiB/s':>14s} {'raw MiB/s':>10s} {'ratio':>6s} "
          f"{'peak master':>12s} {'peak worker':>12s} "
          f"{'CPU s master':>13s} {'worker':>7s}")  # fmt: skip
    ratios = []
    for label, cloudai, raw, rss in results:
        peak, cpu = rss.peak, rss.cpu
        memory = f"{peak['master'] / MIB:9.0f} MiB {peak['worker'] / MIB:9.0f} MiB"
        memory += f" {cpu['master']:13.2f} {cpu['worker']:7.2f}"
        if not raw:
            print(f"{label:28s} {cloudai * 1000:11.0f} ms {'':>10s} {'':>6s} {memory}")
            continue
        ratios.append((label, cloudai / raw))
        print(f"{label:28s} {cloudai:14.0f} {raw:10.0f} {cloudai / raw:6.2f} {memory}")
    worst = min(ratios, key=lambda r: r[1])
    print(f"outputs vs raw loopback copy, worst case ({worst[0]}): {worst[1]:.2f}x")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",") if x],
                        default=[256, 1024], help="MiB, each as one file")  # fmt: skip
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
