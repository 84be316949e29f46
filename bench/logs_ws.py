"""A task's log followed live over `/ws/tasks/{id}/logs`: throughput and write-to-client
latency, against following the same bytes in the worker's log file.

    .venv/bin/python bench/logs_ws.py [--mb 50] [--paced-mb 10 --rate-mb 2] [--repeat 1]

The master (its own process) and one worker (its own process, `--executor process`), as
in outputs.py. The task is a small Python program that waits for a gate file, then
writes `--mb` MB of 200-byte lines, each starting with the time it was written
(`time.time()`): at full speed (block-buffered stdout), then, in a second task,
`--paced-mb` MB at `--rate-mb` MB/s with every line flushed. The client (the
`websockets` package) connects, sees `connected` and the task `running`, opens the gate,
and stamps each line as its message arrives: write-to-client latency is arrival minus
the line's own stamp (one clock: everything runs on this machine); throughput is the
bytes over gate-open to the last byte; "client CPU" is this process's CPU time over
that span (decoding JSON, cutting lines), to tell a slow client from a slow server.

Baseline, same run: the same task once more with no WebSocket; this process follows
the worker's own log file (`…/attempts/<task>-1/task.log`) from a thread, reading
whatever is there and polling every millisecond when it has caught up: the same
figures for `tail -f` on the file the task writes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from control_plane import master_process, ready
from docker_path import online_worker
from outputs import final, worker_process
from websockets.asyncio.client import connect

LINE = 200
STAMP = 17  # "1764758400.123456"
WRITER = f"""import os, sys, time
total, rate, gate = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
while not os.path.exists(gate):
    time.sleep(0.005)
pad, out, written, began = "x" * ({LINE} - {STAMP} - 2), sys.stdout.buffer, 0, time.time()
while written < total:
    written += out.write(f"{{time.time():.6f}} {{pad}}\\n".encode())
    if rate:
        out.flush()
        ahead = began + written / rate - time.time()
        if ahead > 0:
            time.sleep(ahead)
out.flush()
"""


class Lines:
    """Cuts arriving text into lines; keeps each one's latency (s)."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.bytes = 0
        self.last = 0.0
        self._rest = ""

    def feed(self, text: str) -> None:
        now = time.time()
        self.bytes += len(text)
        self.last = now
        lines = (self._rest + text).split("\n")
        self._rest = lines.pop()
        self.latencies.extend(now - float(line[:STAMP]) for line in lines)


async def start_task(client: httpx.AsyncClient, script: Path, total: int, rate: float,
                     gate: Path) -> str:  # fmt: skip
    command = f"{sys.executable} {script} {total} {rate} {gate}"
    body = {"docker_image": "img", "command": command, "cpu_required": 1,
            "memory_required": 0.5}  # fmt: skip
    answer = await client.post("/api/tasks", json=body)
    answer.raise_for_status()
    task_id: str = answer.json()["task_id"]
    return task_id


async def running(client: httpx.AsyncClient, task_id: str) -> None:
    params: dict[str, str | int] = {"until": "running", "timeout": 60}
    while (await client.get(f"/api/tasks/{task_id}/wait", params=params)).json()[
        "status"
    ] != "running":
        pass


async def over_websocket(client: httpx.AsyncClient, base: str, task_id: str,
                         gate: Path) -> tuple[Lines, float]:  # fmt: skip
    url = f"ws://{base}/ws/tasks/{task_id}/logs"
    headers = {"Authorization": client.headers["Authorization"]}
    seen = Lines()
    async with connect(url, additional_headers=headers, max_size=None) as ws:
        assert json.loads(await ws.recv())["type"] == "connected"
        await running(client, task_id)
        opened = time.time()
        gate.touch()  # noqa: ASYNC240 - an instant, local write
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "log":
                seen.feed(message["data"])
            elif message["type"] == "complete":
                break
    return seen, opened


def follow_file(path: Path, total: int, seen: Lines) -> None:
    with path.open("rb") as handle:
        while seen.bytes < total:
            block = handle.read(1 << 20)
            if block:
                seen.feed(block.decode())
            else:
                time.sleep(0.001)  # caught up with the writer: poll, as `tail -f` does


async def over_file(client: httpx.AsyncClient, worker_dir: Path, task_id: str, total: int,
                    gate: Path) -> tuple[Lines, float]:  # fmt: skip
    await running(client, task_id)
    seen = Lines()
    log = next(worker_dir.rglob(f"{task_id}-1/task.log"))  # noqa: ASYNC240 - a small tree
    follower = threading.Thread(target=follow_file, args=(log, total, seen))
    follower.start()
    opened = time.time()
    gate.touch()  # noqa: ASYNC240 - an instant, local write
    await asyncio.to_thread(follower.join)
    return seen, opened


async def one(client: httpx.AsyncClient, base: str, tmp: Path, total: int, rate: float,
              websocket: bool) -> tuple[float, float, float, float]:  # fmt: skip
    """(MB/s, p50 ms, p99 ms, this process's CPU share while following) of one task."""
    gate = tmp / f"gate-{time.monotonic_ns()}"
    task_id = await start_task(client, tmp / "writer.py", total, rate, gate)
    cpu = time.process_time()
    if websocket:
        seen, opened = await over_websocket(client, base, task_id, gate)
    else:
        seen, opened = await over_file(client, tmp / "worker", task_id, total, gate)
    cpu = (time.process_time() - cpu) / (seen.last - opened)
    task = await final(client, task_id)
    if task["status"] != "completed" or seen.bytes != total:
        raise RuntimeError(f"{task_id}: {task['status']}, {seen.bytes} of {total} bytes seen")
    cuts = statistics.quantiles(seen.latencies, n=100, method="inclusive")
    return total / 1e6 / (seen.last - opened), cuts[49] * 1000, cuts[98] * 1000, cpu


async def main(args: argparse.Namespace) -> None:
    rows: list[tuple[str, tuple[float, float, float, float]]] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        (tmp / "writer.py").write_text(WRITER)
        full, paced = int(args.mb * 1e6) // LINE * LINE, int(args.paced_mb * 1e6) // LINE * LINE
        with master_process(tmp / "master", None) as (http_port, grpc_port, _):
            base = f"127.0.0.1:{http_port}"
            client = await ready(f"http://{base}")
            with worker_process(grpc_port, tmp / "worker"):
                await online_worker(client)
                for _ in range(args.repeat):
                    for label, size, rate in ((f"{args.mb:g} MB, full speed", full, 0.0),
                                              (f"{args.paced_mb:g} MB at {args.rate_mb:g} MB/s",
                                               paced, args.rate_mb * 1e6)):  # fmt: skip
                        for websocket in (True, False):
                            how = "websocket" if websocket else "log file (baseline)"
                            figures = await one(client, base, tmp, size, rate, websocket)
                            rows.append((f"{label}, {how}", figures))
            await client.aclose()
    report(rows)


def report(rows: list[tuple[str, tuple[float, float, float, float]]]) -> None:
    print(f"{'case':44s} {'MB/s':>7s} {'p50 ms':>8s} {'p99 ms':>8s} {'client CPU':>10s}")
    for label, (rate, p50, p99, cpu) in rows:
        print(f"{label:44s} {rate:7.1f} {p50:8.1f} {p99:8.1f} {cpu * 100:9.0f}%")
    ws = [r for label, r in rows if "full speed, websocket" in label]
    raw = [r for label, r in rows if "full speed, log file" in label]
    ratio = max(w[0] for w in ws) / max(r[0] for r in raw)
    print(f"websocket vs log file at full speed: {ratio:.2f}x the throughput")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--paced-mb", type=float, default=10.0)
    parser.add_argument("--rate-mb", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=1)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
