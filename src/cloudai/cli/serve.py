"""Running the long-lived processes: `up` (everything), `master`, `worker`.

Each is one asyncio program whose composition root builds the apps, waits for
SIGINT/SIGTERM (or a fatal error), and stops them in a fixed order: workers (and
their containers) first, then the master.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from cloudai.cli import render
from cloudai.config import MasterSettings, WorkerSettings
from cloudai.master.app import MasterApp
from cloudai.worker.app import WorkerApp
from cloudai.worker.executors.docker import docker_available
from cloudai.worker.telemetry import detect_capacity


async def _until_stopped(*fatal: Awaitable[None]) -> None:
    """Wait for SIGINT/SIGTERM, or for any of `fatal` to finish (it raises)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    waiters = [asyncio.ensure_future(f) for f in fatal]
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait([stopper, *waiters], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # re-raise a fatal error
    finally:
        for task in [stopper, *waiters]:
            task.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@dataclass(frozen=True, slots=True)
class UpOptions:
    workers: int
    executor: str | None  # None: docker when a daemon answers, else process


async def run_up(master_settings: MasterSettings, options: UpOptions) -> None:
    executor = options.executor or await _pick_executor()
    master = MasterApp(master_settings)
    await master.start()
    workers: list[WorkerApp] = []
    try:
        for settings in _local_workers(master, options.workers, executor):
            worker = WorkerApp(settings)
            await worker.start()
            workers.append(worker)
        await asyncio.gather(*(w.registered.wait() for w in workers))
        render.up_banner(master, [w.worker_id for w in workers], executor)
        await _until_stopped(*(w.failed for w in workers))
    finally:
        render.info("stopping: workers and their containers first, then the master")
        for worker in workers:
            await worker.stop()
        await master.stop()


async def _pick_executor() -> str:
    if await asyncio.to_thread(docker_available):
        return "docker"
    render.warn(
        "Docker is not reachable: tasks will run as plain local processes, "
        "WITHOUT a sandbox (no isolation, no resource limits). Start dockerd and "
        "run `cloudai up` again for sandboxed execution."
    )
    return "process"


def _local_workers(master: MasterApp, count: int, executor: str) -> list[WorkerSettings]:
    """Split this machine evenly among the local workers, so the cluster never
    promises more than the machine has."""
    data_dir: Path = master.settings.data_dir / "workers"
    machine = detect_capacity(data_dir)
    return [
        WorkerSettings(
            master=f"127.0.0.1:{master.grpc_port}",
            token=SecretStr(master.secrets.join_token),
            host="127.0.0.1",
            port=0,
            id=f"local-{index + 1}",
            data_dir=data_dir,
            executor=executor,
            cpu=round(machine.cpu / count, 2),
            memory_gb=round(machine.memory_gb / count, 2),
        )
        for index in range(count)
    ]


async def run_master(settings: MasterSettings) -> None:
    master = MasterApp(settings)
    await master.start()
    render.master_banner(master)
    try:
        await _until_stopped()
    finally:
        await master.stop()


async def run_worker(settings: WorkerSettings) -> None:
    worker = WorkerApp(settings)
    await worker.start()
    render.info(f"worker {worker.worker_id} listening on {settings.host}:{worker.port}")
    try:
        await _until_stopped(worker.failed)
    finally:
        await worker.stop()
