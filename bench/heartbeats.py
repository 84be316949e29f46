"""Many workers heartbeating: the master's CPU and the time each heartbeat takes.

    .venv/bin/python bench/heartbeats.py [--workers 2000] [--period 5] [--seconds 60]
        [--channels 2000]

The master in its own process (`run_master`, as in control_plane.py; SQLite). The
simulated workers all live in this process and speak raw gRPC (the stubs of
`cloudai._proto`): each registers with the join token, then presents its per-worker
credential (`x-cloudai-worker-id`, `x-cloudai-credential`) on a `SendHeartbeat` every
`--period` s, at an offset of its own within the period, as `MasterLink` does. Workers
share `--channels` channels (HTTP/2 connections), round robin; the default is one each.
Measured over `--seconds` once every worker has registered and beaten once: the
master's CPU (psutil `cpu_times` of its process: user + system over wall) and each
heartbeat's round trip as the client sees it (p50, p99, max).

Baseline, same run: the same workers and pacing against a bare `grpc.aio` server (its
own process, the same service) whose `RegisterWorker` and `SendHeartbeat` answer at once
with an empty reply.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psutil
from control_plane import JOIN_TOKEN, free_port, master_process

from cloudai._proto import cluster_pb2 as pb
from cloudai._proto import cluster_pb2_grpc as pb_grpc
from cloudai.rpc.credentials import (
    CREDENTIAL_HEADER,
    JOIN_TOKEN_HEADER,
    WORKER_ID_HEADER,
    worker_credential,
)

_BARE_SERVER = """
import asyncio, sys, grpc
from cloudai._proto import cluster_pb2 as pb, cluster_pb2_grpc as pb_grpc
class Bare(pb_grpc.MasterWorkerServicer):
    async def RegisterWorker(self, request, context):
        return pb.RegisterAck(success=True)
    async def SendHeartbeat(self, request, context):
        return pb.HeartbeatAck(success=True)
async def main():
    server = grpc.aio.server()
    pb_grpc.add_MasterWorkerServicer_to_server(Bare(), server)
    server.add_insecure_port(f"127.0.0.1:{sys.argv[1]}")
    await server.start()
    await server.wait_for_termination()
asyncio.run(main())
"""


@contextlib.contextmanager
def bare_server() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", _BARE_SERVER, str(port)])
    try:
        yield port, process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


@dataclass
class Load:
    """What the simulated workers saw."""

    window: tuple[float, float] = (0.0, 0.0)  # measured from .. to (perf_counter)
    latencies: list[float] = field(default_factory=list)  # ms, inside the window
    errors: int = 0


async def register(stub: pb_grpc.MasterWorkerStub, worker_id: str) -> None:
    info = pb.WorkerInfo(worker_id=worker_id, worker_ip=f"127.0.0.1:{1 + hash(worker_id) % 60000}",
                         total_cpu=8, total_memory=32, total_storage=100)  # fmt: skip
    for _ in range(50):
        try:
            await stub.RegisterWorker(info, metadata=((JOIN_TOKEN_HEADER, JOIN_TOKEN),), timeout=30)
            return
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.UNAVAILABLE:
                raise
            await asyncio.sleep(0.2)  # the server is still starting
    raise RuntimeError(f"{worker_id} could not register")


async def beat_forever(stub: pb_grpc.MasterWorkerStub, worker_id: str, period: float,
                       load: Load, beaten: asyncio.Event) -> None:  # fmt: skip
    meta = ((WORKER_ID_HEADER, worker_id),
            (CREDENTIAL_HEADER, worker_credential(JOIN_TOKEN, worker_id)))  # fmt: skip
    beat = pb.Heartbeat(worker_id=worker_id, cpu_usage=12.5, memory_usage=40.0,
                        storage_usage=10.0)  # fmt: skip
    await asyncio.sleep(random.uniform(0, period))  # each worker's own phase in the period
    due = time.perf_counter()
    while True:
        began = time.perf_counter()
        failed = False
        try:
            await stub.SendHeartbeat(beat, metadata=meta, timeout=30)
        except grpc.aio.AioRpcError:
            failed = True
        ended = time.perf_counter()
        beaten.set()
        # Counted inside the measured window only: calls cut off when the run stops
        # end CANCELLED, and are no failure of the server's.
        if load.window[0] <= began and ended <= load.window[1]:
            load.latencies.append((ended - began) * 1000)
            load.errors += failed
        due += period
        await asyncio.sleep(max(0.0, due - time.perf_counter()))  # the heartbeat period


async def drive(port: int, pid: int, args: argparse.Namespace) -> tuple[Load, float]:
    """Run the workers against `port`; (what they saw, server CPU cores used)."""
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for _ in range(args.channels)]
    stubs = [pb_grpc.MasterWorkerStub(c) for c in channels]
    ids = [f"hb-{n:05d}" for n in range(args.workers)]
    load = Load(window=(float("inf"), float("inf")))
    gate = asyncio.Semaphore(64)

    async def join(n: int) -> None:
        async with gate:
            await register(stubs[n % len(stubs)], ids[n])

    beats: list[asyncio.Task[None]] = []
    flags = [asyncio.Event() for _ in ids]
    try:
        for start in range(0, len(ids), 200):
            chunk = range(start, min(start + 200, len(ids)))
            await asyncio.gather(*(join(n) for n in chunk))
            beats += [asyncio.create_task(beat_forever(stubs[n % len(stubs)], ids[n],
                                                       args.period, load, flags[n]))
                      for n in chunk]  # fmt: skip
        await asyncio.gather(*(flag.wait() for flag in flags))
        server = psutil.Process(pid)
        cpu0, began = sum(server.cpu_times()[:2]), time.perf_counter()
        load.window = (began, began + args.seconds)
        await asyncio.sleep(args.seconds)  # the measured window
        cpu = (sum(server.cpu_times()[:2]) - cpu0) / (time.perf_counter() - began)
    finally:
        for task in beats:
            task.cancel()
        await asyncio.gather(*beats, return_exceptions=True)
        for channel in channels:
            await channel.close()
    return load, cpu


def summary(name: str, load: Load, cpu: float, seconds: float) -> tuple[float, float]:
    cuts = statistics.quantiles(load.latencies, n=100, method="inclusive")
    rate = len(load.latencies) / seconds
    per_beat = cpu / rate * 1000 if rate else 0.0
    print(f"{name:28s} {rate:7.0f} {cpu * 100:8.1f} {per_beat:9.2f} {cuts[49]:8.2f} "
          f"{cuts[98]:8.2f} {max(load.latencies):8.1f} {load.errors:6d}")  # fmt: skip
    return cuts[98], cpu


async def main(args: argparse.Namespace) -> None:
    args.channels = min(args.channels or args.workers, args.workers)
    runs: list[tuple[str, Load, float]] = []
    with tempfile.TemporaryDirectory() as name:
        for _ in range(args.repeat):
            with bare_server() as (port, bare):
                runs.append(("bare grpc.aio (baseline)", *await drive(port, bare.pid, args)))
            with master_process(Path(name) / f"master{len(runs)}", None) as (_, grpc_port, master):
                runs.append(("cloudai master", *await drive(grpc_port, master.pid, args)))
    print(f"{args.workers} workers, a heartbeat every {args.period:g} s each, "
          f"{args.channels} channels, {args.seconds:g} s measured per run")  # fmt: skip
    print(f"{'server':28s} {'beats/s':>7s} {'CPU %':>8s} {'CPU ms/hb':>9s} {'p50 ms':>8s} "
          f"{'p99 ms':>8s} {'max ms':>8s} {'errors':>6s}")  # fmt: skip
    figures = [summary(name, load, cpu, args.seconds) for name, load, cpu in runs]
    pairs = [
        f"p99 {p99 / bare_p99:.2f}x, CPU {cpu / bare_cpu:.2f}x"
        for (bare_p99, bare_cpu), (p99, cpu) in zip(figures[::2], figures[1::2], strict=True)
    ]
    print(f"cloudai master vs bare grpc.aio (each run): {'; '.join(pairs)}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2000)
    parser.add_argument("--period", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--channels", type=int, default=0, help="0: one per worker")
    parser.add_argument("--repeat", type=int, default=1)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
