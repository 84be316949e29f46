"""Running `cloudai worker`: apart from `serve` (the master's side), so a worker process
loads only its own stack (gRPC, Docker, psutil), not FastAPI, SQLAlchemy or Alembic."""

from __future__ import annotations

from cloudai.cli import render
from cloudai.config import WorkerSettings
from cloudai.launch import banner
from cloudai.launch.signals import StopSignals
from cloudai.worker.app import WorkerApp


async def run_worker(settings: WorkerSettings) -> None:
    with StopSignals() as stop:
        worker = WorkerApp(settings)
        await worker.start()
        try:
            render.info(banner.worker_line(worker))
            await stop.wait(worker.failed)
        finally:
            render.info("stopping: running tasks first")
            await worker.stop()
