"""The control plane end to end, with the fake executor: submit rate, drain rate and
queued -> assigned latency through the real master (its own process: REST, gRPC, store)
and simulated workers (all in this process, over real gRPC, each with a fake executor
whose tasks finish at once).

    .venv/bin/python bench/control_plane.py [--tasks 1000] [--workers 4] [--db URL]
        [--offered 200] [--offered-s 5] [--queued 250,2000] [--waiters 0] [--followers 0]

Phases, one run:
1. drain: submit `--tasks` tasks as fast as 32 connections allow, until all completed:
   submissions/s and completed tasks/s;
2. depth: with the workers cordoned, queue Q tasks (each of `--queued`), then open them
   and time the drain: the rate at each depth, as a ratio of the smallest;
3. latency: submit at `--offered` tasks/s for `--offered-s` seconds; queued -> assigned
   p50/p99 from each task's events;
4. followers: the drain again with `--followers` clients following the logs of other
   tasks (`/api/tasks/{id}/logs/stream?follow=true`), each connected before it starts;
5. waiters: the drain again with `--waiters` clients blocked in `/wait` on other tasks,
   each attached before it starts (last: the master keeps serving a wait after its
   client gave up, until the wait's timeout).
Baseline, same run: the same database commits (one insert of task + event, then three
status updates each with its event) with plain `sqlite3`, one transaction each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from loadgen import LoadClient  # bench/, beside this script
from pydantic import SecretStr

from cloudai.config import WorkerSettings
from cloudai.worker.app import WorkerApp
from cloudai.worker.executors.fake import FakeExecutor

EMAIL, PASSWORD = "bench@example.test", "bench-password-long"
JOIN_TOKEN = "bench-join-token-0123456789abcdef"
IN_FLIGHT = 32
KEEPALIVE_S = 3.0
BODY = {"docker_image": "img", "command": "true", "cpu_required": 0.01, "memory_required": 0.01}


# The master's composition root, configured by the environment (as `cloudai master` is).
_RUN_MASTER = (
    "import asyncio; from cloudai.config import MasterSettings; "
    "from cloudai.launch.serve import run_master; asyncio.run(run_master(MasterSettings()))"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def master_process(data_dir: Path, db: str | None) -> Any:
    http_port, grpc_port = free_port(), free_port()
    env = {
        **os.environ,
        "CLOUDAI_ADMIN_EMAIL": EMAIL,
        "CLOUDAI_ADMIN_PASSWORD": PASSWORD,
        "CLOUDAI_MAX_QUEUED_PER_USER": "1000000",
        "CLOUDAI_JOIN_TOKEN": JOIN_TOKEN,
    }
    env.update(CLOUDAI_DATA_DIR=str(data_dir), CLOUDAI_HTTP_PORT=str(http_port),
               CLOUDAI_GRPC_PORT=str(grpc_port))  # fmt: skip
    if db:
        env["CLOUDAI_DB"] = db
    command = [sys.executable, "-c", _RUN_MASTER]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        if os.environ.get("BENCH_PROFILE"):  # py-spy of the master, into this file
            subprocess.Popen(["py-spy", "record", "-o", os.environ["BENCH_PROFILE"], "-f",
                              "raw", "--threads", "-p", str(process.pid), "-r", "100"])  # fmt: skip
        yield http_port, grpc_port, process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


async def ready(base: str) -> httpx.AsyncClient:
    # Idle connections dropped before uvicorn's 5 s keep-alive closes them: a request
    # sent on one the server is closing fails (httpx.ReadError).
    limits = httpx.Limits(max_connections=IN_FLIGHT * 2, max_keepalive_connections=IN_FLIGHT * 2,
                          keepalive_expiry=KEEPALIVE_S)  # fmt: skip
    client = httpx.AsyncClient(base_url=base, limits=limits, timeout=300)
    for _ in range(600):
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/readyz")).status_code == 200:
                break
        await asyncio.sleep(0.1)  # a benchmark may poll the master's start
    login = await client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
    client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    return client


@contextlib.asynccontextmanager
async def workers(
    count: int, grpc_port: int, data_dir: Path, prefix: str = "bench-w"
) -> AsyncIterator[list[WorkerApp]]:
    apps = [
        WorkerApp(
            WorkerSettings(
                master=f"127.0.0.1:{grpc_port}",
                token=SecretStr(JOIN_TOKEN),
                port=0,
                id=f"{prefix}{n}",
                data_dir=data_dir / f"w{n}",
                cpu=64,
                memory_gb=64,
            ),
            executor=FakeExecutor(),
        )
        for n in range(count)
    ]
    for app in apps:
        await app.start()
    await asyncio.gather(*(app.registered.wait() for app in apps))
    try:
        yield apps
    finally:
        await asyncio.gather(*(app.stop() for app in apps))


def lean(client: httpx.AsyncClient) -> LoadClient:
    """The lean client (bench/loadgen.py) for `client`'s master and login."""
    token = client.headers["Authorization"].removeprefix("Bearer ")
    return LoadClient(str(client.base_url), token, IN_FLIGHT)


async def submit_many(
    client: httpx.AsyncClient, count: int, body: dict[str, Any] = BODY
) -> list[str]:
    """The ids of `count` tasks of `body`, submitted `IN_FLIGHT` at a time (on the
    lean client: httpx would cost more CPU than the master, see bench/loadgen.py)."""
    async with lean(client) as load:

        async def one() -> str:
            task_id: str = (await load.post_json("/api/tasks", body))["task_id"]
            return task_id

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def completed(client: httpx.AsyncClient) -> int:
    stats = (await client.get("/api/stats")).json()
    done: int = stats["tasks"].get("completed", 0)
    return done


async def until_completed(client: httpx.AsyncClient, target: int) -> float:
    while await completed(client) < target:  # noqa: ASYNC110 - a benchmark polls the stats
        await asyncio.sleep(0.05)
    return time.perf_counter()


MASTER_CPU: dict[str, float] = {}  # the master's CPU seconds per task, by drain
BENCH_CPU: dict[str, float] = {}  # this process's (the client's and the workers')


async def drain(client: httpx.AsyncClient, count: int, already: int,
                master: psutil.Process | None = None,
                name: str = "none") -> tuple[float, float]:  # fmt: skip
    """(submissions/s, completed/s) for `count` tasks submitted at once; with `master`,
    its CPU seconds per task go to MASTER_CPU (a figure other load hardly moves)."""
    cpu = sum(master.cpu_times()[:2]) if master else 0.0
    own = sum(psutil.Process().cpu_times()[:2])
    began = time.perf_counter()
    await submit_many(client, count)
    submitted = time.perf_counter()
    ended = await until_completed(client, already + count)
    if master:
        MASTER_CPU[name] = (sum(master.cpu_times()[:2]) - cpu) / count
        BENCH_CPU[name] = (sum(psutil.Process().cpu_times()[:2]) - own) / count
    return count / (submitted - began), count / (ended - began)


async def assign_latencies(client: httpx.AsyncClient, rate: float, seconds: float) -> list[float]:
    ids: list[str] = []
    pending: list[asyncio.Task[None]] = []
    async with lean(client) as load:

        async def one() -> None:
            ids.append((await load.post_json("/api/tasks", BODY))["task_id"])

        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # the offered load's pace
            pending.append(asyncio.create_task(one()))
        await asyncio.gather(*pending)
    latencies = []
    for task_id in ids:
        wait = await client.get(f"/api/tasks/{task_id}/wait", params={"until": "completed"})
        events = {e["to_status"]: e["at"] for e in wait.json()["events"]}
        queued, assigned = events.get("queued"), events.get("assigned")
        if queued and assigned:
            delta = datetime.fromisoformat(assigned) - datetime.fromisoformat(queued)
            latencies.append(delta.total_seconds() * 1000)
    return latencies


def raw_sqlite_rate(count: int) -> float:
    """The baseline: the same commits with plain sqlite3 (WAL, one transaction each)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT, epoch INT, body TEXT)")
        db.execute("CREATE TABLE events (task_id TEXT, status TEXT, at REAL)")
        body = "x" * 400
        began = time.perf_counter()
        for n in range(count):
            task_id = f"t{n}"
            with db:
                db.execute("INSERT INTO tasks VALUES (?, 'queued', 0, ?)", (task_id, body))
                db.execute("INSERT INTO events VALUES (?, 'queued', ?)", (task_id, time.time()))
            for old, new in (("queued", "assigned"), ("assigned", "running"),
                             ("running", "completed")):  # fmt: skip
                with db:
                    db.execute("UPDATE tasks SET status=?, epoch=epoch+1 WHERE id=? AND status=?",
                               (new, task_id, old))  # fmt: skip
                    db.execute("INSERT INTO events VALUES (?, ?, ?)", (task_id, new, time.time()))
        rate = count / (time.perf_counter() - began)
        db.close()
        return rate


async def depth_rate(client: httpx.AsyncClient, worker_ids: list[str], queued: int,
                     already: int) -> float:  # fmt: skip
    """Drain rate with `queued` tasks waiting when the (cordoned) workers open."""
    await _set_eligibility(client, worker_ids, "cordon")
    await submit_many(client, queued)
    began = time.perf_counter()
    await _set_eligibility(client, worker_ids, "open")  # side by side: many workers
    ended = await until_completed(client, already + queued)
    return queued / (ended - began)


async def _set_eligibility(client: httpx.AsyncClient, worker_ids: list[str], verb: str) -> None:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(worker_id: str) -> None:
        async with gate:
            (await client.post(f"/api/admin/workers/{worker_id}/{verb}")).raise_for_status()

    await asyncio.gather(*(one(w) for w in worker_ids))


async def subscribers(client: httpx.AsyncClient) -> float:
    """How many clients wait on the master's events (its metrics say)."""
    text = (await client.get("/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith("cloudai_event_subscribers "))
    return float(line.split()[1])


async def attached(client: httpx.AsyncClient, count: float) -> None:
    while await subscribers(client) < count:  # noqa: ASYNC110 - a benchmark polls its set-up
        await asyncio.sleep(0.1)  # a benchmark may poll its set-up


async def _never_running(
    client: httpx.AsyncClient, count: int
) -> tuple[list[str], float, httpx.AsyncClient]:
    """`count` tasks that never run (pinned elsewhere), how many clients wait on events
    now, and a client with a connection for each task."""
    ids = await submit_many(client, count, {**BODY, "target_worker_id": "nobody-here"})
    before = await subscribers(client)
    limits = httpx.Limits(max_connections=count + 1, keepalive_expiry=KEEPALIVE_S)
    other = httpx.AsyncClient(base_url=client.base_url, headers=client.headers, timeout=600,
                              limits=limits)  # fmt: skip
    return ids, before, other


async def hold_waiters(client: httpx.AsyncClient, count: int) -> list[asyncio.Task[Any]]:
    """`count` clients blocked in /wait on tasks that never run (pinned elsewhere),
    each attached when this returns."""
    ids, before, waiter = await _never_running(client, count)
    waiting = [asyncio.create_task(waiter.get(f"/api/tasks/{i}/wait",
                                              params={"until": "completed", "timeout": 300}))
               for i in ids]  # fmt: skip
    await attached(client, before + count)
    return waiting


async def hold_followers(client: httpx.AsyncClient, count: int) -> list[httpx.Response]:
    """`count` clients following the logs of tasks that never run (pinned elsewhere),
    each with its stream open (headers received) when this returns."""
    ids, before, follower = await _never_running(client, count)

    async def follow(task_id: str) -> httpx.Response:
        request = follower.build_request("GET", f"/api/tasks/{task_id}/logs/stream",
                                         params={"follow": "true"})  # fmt: skip
        answer = await follower.send(request, stream=True)
        answer.raise_for_status()
        return answer

    streams = list(await asyncio.gather(*(follow(i) for i in ids)))
    await attached(client, before + count)
    return streams


async def main(args: argparse.Namespace) -> None:
    baseline = raw_sqlite_rate(args.tasks)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with master_process(tmp / "master", args.db) as (http_port, grpc_port, process):
            client = await ready(f"http://127.0.0.1:{http_port}")
            done = 0
            async with workers(args.workers, grpc_port, tmp) as apps:
                master = psutil.Process(process.pid)
                submit_rate, drain_rate = await drain(client, args.tasks, done, master)
                done += args.tasks
                latencies = await assign_latencies(client, args.offered, args.offered_s)
                done += len(latencies)
                depths = {}
                for queued in args.queued:
                    ids = [app.worker_id for app in apps]
                    depths[queued] = await depth_rate(client, ids, queued, done)
                    done += queued
                follower_rate = None
                if args.followers:
                    streams = await hold_followers(client, args.followers)
                    _, follower_rate = await drain(client, args.tasks, done, master,
                                                   "followers")  # fmt: skip
                    done += args.tasks
                    for stream in streams:
                        await stream.aclose()
                waiter_rate = None
                if args.waiters:  # last: a waiter's /wait outlives its client's cancel
                    waiting = await hold_waiters(client, args.waiters)
                    _, waiter_rate = await drain(client, args.tasks, done, master,
                                                 "waiters")  # fmt: skip
                    done += args.tasks
                    for waiter in waiting:
                        waiter.cancel()
            await client.aclose()
    report(args, baseline, submit_rate, drain_rate, latencies, depths, waiter_rate,
           follower_rate)  # fmt: skip


def report(args: argparse.Namespace, baseline: float, submit_rate: float, drain_rate: float,
           latencies: list[float], depths: dict[int, float],
           waiter_rate: float | None, follower_rate: float | None) -> None:  # fmt: skip
    store = "PostgreSQL" if args.db else "SQLite"
    print(f"store {store}, {args.workers} workers, {args.tasks} tasks")
    print(f"raw sqlite3, same commits:      {baseline:8.0f} tasks/s")
    print(f"submissions:                    {submit_rate:8.0f} /s")
    print(f"completed (drain):              {drain_rate:8.0f} tasks/s")
    if MASTER_CPU:
        per_task = MASTER_CPU["none"] * 1000
        print(f"master CPU per task (drain):    {per_task:8.2f} ms "
              f"(one core's worth: {1000 / per_task:.0f} tasks/s)")  # fmt: skip
        print(f"client + workers CPU per task:  {BENCH_CPU['none'] * 1000:8.2f} ms "
              "(this process, beside the master)")  # fmt: skip
    if latencies:
        cuts = statistics.quantiles(latencies, n=100)
        print(f"queued->assigned at {args.offered}/s offered: p50 {cuts[49]:.1f} ms, "
              f"p99 {cuts[98]:.1f} ms ({len(latencies)} tasks)")  # fmt: skip
    smallest = min(depths) if depths else None
    for queued, rate in depths.items():
        ratio = rate / depths[smallest] if smallest else 1.0
        print(f"drain with {queued:6d} queued:        {rate:8.0f} tasks/s ({ratio:.2f}x)")
    if waiter_rate is not None:
        print(f"drain with {args.waiters} waiters:        {waiter_rate:8.0f} tasks/s "
              f"({waiter_rate / drain_rate:.2f}x of none; master CPU a task "
              f"{MASTER_CPU['waiters'] * 1000:.2f} ms)")  # fmt: skip
    if follower_rate is not None:
        print(f"drain with {args.followers} log followers: {follower_rate:8.0f} tasks/s "
              f"({follower_rate / drain_rate:.2f}x of none; master CPU a task "
              f"{MASTER_CPU['followers'] * 1000:.2f} ms)")  # fmt: skip
    print(f"drain vs raw sqlite3 commits: {drain_rate / baseline:.2f}x")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (default: SQLite)")
    parser.add_argument("--offered", type=float, default=200.0)
    parser.add_argument("--offered-s", type=float, default=5.0)
    parser.add_argument("--queued", type=lambda s: [int(x) for x in s.split(",") if x],
                        default=[250, 2000])  # fmt: skip
    parser.add_argument("--waiters", type=int, default=0)
    parser.add_argument("--followers", type=int, default=0)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
