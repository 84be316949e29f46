"""Running the long-lived processes: `up` (everything), `master`, `worker`.

Each is one asyncio program that builds its apps, runs until a stop signal (SIGINT,
SIGTERM, SIGHUP) or a fatal error, and stops them in a fixed order: workers (and their
containers) first, then the master. The stop sequence always runs to its end.
"""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from cloudai.cli import render
from cloudai.config import ExecutorKind, MasterSettings, WorkerSettings
from cloudai.launch import banner
from cloudai.launch.signals import StopSignals
from cloudai.master.app import MasterApp
from cloudai.worker.app import WorkerApp
from cloudai.worker.executors.docker import docker_available
from cloudai.worker.telemetry import detect_capacity

# The master keeps many long-lived objects (a channel and a registry entry per worker,
# the task index). With CPython's default thresholds (700, 10, 10) a full collection
# walks them all every few seconds: ~110 ms pauses every ~8 s at 2,000 workers, which
# set the heartbeats' p99 (0.1-1.1 s). Collecting the young generation every 20,000
# allocations instead: one full collection a minute, p99 37 ms, CPU per heartbeat
# 1.9 -> 1.6 ms (BENCHMARKS.md, heartbeats). Cyclic garbage lives a little longer.
_GC_THRESHOLDS = (20_000, 20, 20)


def _tune_gc() -> None:
    gc.set_threshold(*_GC_THRESHOLDS)


@dataclass(frozen=True, slots=True)
class UpOptions:
    workers: int
    executor: ExecutorKind | None  # None: docker when a daemon answers, else process


async def run_up(master_settings: MasterSettings, options: UpOptions) -> None:
    _tune_gc()
    with StopSignals() as stop:
        executor = options.executor or await _pick_executor()
        master = MasterApp(master_settings)
        await master.start()  # outside the try: stop() after a half-done start hides its error
        workers: list[WorkerApp] = []
        try:
            for settings in _local_workers(master, options.workers, executor):
                if stop.requested.is_set():
                    return
                worker = WorkerApp(settings)
                await worker.start()
                workers.append(worker)
            registered = asyncio.gather(*(w.registered.wait() for w in workers))
            if not await stop.unless_stopped(registered):
                return
            terminal = render.stdout_is_terminal()
            render.block(
                banner.up_lines(master, [w.worker_id for w in workers], executor, terminal)
            )
            await stop.wait(*(w.failed for w in workers))
        finally:
            render.info("stopping: workers and their containers first, then the master")
            await master.stop_placing()  # what the workers give back stays queued
            for worker in workers:
                await worker.stop()
            await master.stop()


async def _pick_executor() -> ExecutorKind:
    if await asyncio.to_thread(docker_available):
        return "docker"
    render.warn(
        "Docker is not reachable: tasks will run as plain local processes, "
        "WITHOUT a sandbox (no isolation, no resource limits). Start dockerd and "
        "run `cloudai up` again for sandboxed execution."
    )
    return "process"


def _local_workers(master: MasterApp, count: int, executor: ExecutorKind) -> list[WorkerSettings]:
    """Split this machine evenly among the local workers (its GPUs all to the first), so
    the cluster never promises more than the machine has. Their ids name the cluster
    (unique per data directory), so two clusters' workers are told apart everywhere."""
    data_dir: Path = master.settings.data_dir / "workers"
    machine = detect_capacity(data_dir)
    workers = [
        WorkerSettings(
            master=f"127.0.0.1:{master.grpc_port}",
            token=SecretStr(master.secrets.join_token),
            host="127.0.0.1",
            port=0,
            id=local_worker_id(master.cluster_id, index + 1),
            data_dir=data_dir,
            executor=executor,
            cpu=round(machine.cpu / count, 2),
            memory_gb=round(machine.memory_gb / count, 2),
        )
        for index in range(count)
    ]
    # Each worker hands out device ids on its own: the GPUs go to the first only, or
    # two workers' tasks would share a device.
    return workers[:1] + [w.model_copy(update={"gpu": 0}) for w in workers[1:]]


def local_worker_id(cluster_id: str, number: int) -> str:
    """`local-3f2c9a-1`: short, and unique per cluster."""
    return f"local-{cluster_id.removeprefix('cluster-')[:6]}-{number}"


async def run_master(settings: MasterSettings) -> None:
    _tune_gc()
    with StopSignals() as stop:
        master = MasterApp(settings)
        await master.start()
        try:
            render.block(banner.master_lines(master, render.stdout_is_terminal()))
            await stop.wait()
        finally:
            render.info("stopping the master")
            await master.stop()
