"""Check GPU support end to end on a machine with an NVIDIA GPU (no Docker needed).

Starts a master and a worker (process executor) in this process, on free loopback
ports, with their data in a temporary directory, then checks that:

- NVML sees the GPUs, and the worker offers exactly that many to the master;
- its heartbeats carry a GPU utilisation (0-100 %);
- a task asking for 1 GPU sees exactly 1 CUDA device (libcuda via ctypes);
- a task asking for none sees no CUDA device;
- with 2 GPUs or more, two concurrent 1-GPU tasks get different devices.

Prints one PASS or FAIL line per check; exits 1 if any failed. Not run in CI.

Usage: python scripts/gpu_check.py [--timeout S] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudai.config import MasterSettings, WorkerSettings
from cloudai.master.app import MasterApp
from cloudai.worker.app import WorkerApp
from cloudai.worker.gpus import NvmlProbe

EMAIL = "gpu-check@cloudai.local"
PASSWORD = "gpu-check-password"
WORKER_ID = "gpu-check"

# Run by the task: how many CUDA devices it can see. Exit 2 when libcuda is missing.
CUDA_PROGRAM = """\
import ctypes, os, sys
for name in ("libcuda.so.1", "libcuda.so"):
    try:
        cuda = ctypes.CDLL(name)
        break
    except OSError:
        pass
else:
    print("cuda: libcuda not found")
    sys.exit(2)
print("CUDA_VISIBLE_DEVICES=" + repr(os.environ.get("CUDA_VISIBLE_DEVICES")))
rc = cuda.cuInit(0)
count = ctypes.c_int(0)
if rc == 0:
    rc = cuda.cuDeviceGetCount(ctypes.byref(count))
elif rc == 100:  # CUDA_ERROR_NO_DEVICE: every device hidden
    rc = 0
print(f"cuda: rc={rc} devices={count.value}")
sys.exit(0 if rc == 0 else 3)
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="End-to-end GPU check: master + worker (process executor) in-process."
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per task")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--verbose", action="store_true", help="show the servers' logs")
    return parser.parse_args(argv)


def visible_devices(log: str) -> int | None:
    """The device count CUDA_PROGRAM printed, or None if it printed none."""
    for line in log.splitlines():
        if line.startswith("cuda: rc=0 devices="):
            return int(line.rsplit("=", 1)[1])
    return None


def visible_env(log: str) -> str | None:
    """The CUDA_VISIBLE_DEVICES value CUDA_PROGRAM printed (None: unset or not printed)."""
    for line in log.splitlines():
        if line.startswith("CUDA_VISIBLE_DEVICES="):
            value = line.split("=", 1)[1]
            return None if value == "None" else value.strip("'")
    return None


def task_body(gpus: int, program: str | None = None) -> dict[str, Any]:
    """A submission running `program` (default CUDA_PROGRAM) with this interpreter; the
    process executor ignores the image."""
    return {
        "docker_image": "process-executor-ignores-this",
        "command": [sys.executable, "-c", program or CUDA_PROGRAM],
        "gpu_required": gpus,
        "cpu_required": 0.5,
        "memory_required": 0.25,
        "max_retries": 0,
        "name": f"gpu-check-{gpus}",
    }


@dataclass
class Checks:
    failed: list[str] = field(default_factory=list)
    out: Callable[[str], None] = print

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.out(f"{'PASS' if ok else 'FAIL'} {name}{f': {detail}' if detail else ''}")
        if not ok:
            self.failed.append(name)
        return ok

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


class Http:
    """Blocking stdlib HTTP against the master's REST API, run in threads."""

    def __init__(self, base: str, wait_s: float) -> None:
        self.base = base
        self.wait_s = wait_s  # how long a task may take
        self.token = ""

    def _call(self, method: str, path: str, body: Any = None, limit_s: float = 30) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=limit_s) as response:
            return json.loads(response.read())

    async def call(self, method: str, path: str, body: Any = None, limit_s: float = 30) -> Any:
        return await asyncio.to_thread(self._call, method, path, body, limit_s)

    async def login(self) -> None:
        answer = await self.call("POST", "/api/auth/login", {"email": EMAIL, "password": PASSWORD})
        self.token = answer["access_token"]

    async def run_task(self, gpus: int) -> tuple[str, str]:
        """Submit, wait for the end; (final status, log)."""
        return await self.finish(await self.submit(task_body(gpus)))

    async def submit(self, body: dict[str, Any]) -> str:
        return str((await self.call("POST", "/api/tasks", body))["task_id"])

    async def finish(self, task_id: str) -> tuple[str, str]:
        wait = f"/api/tasks/{task_id}/wait?timeout={min(self.wait_s, 300)}"
        task = await self.call("GET", wait, limit_s=self.wait_s + 30)
        logs = await self.call("GET", f"/api/tasks/{task_id}/logs")
        return str(task["status"]), str(logs["logs"])


@contextlib.asynccontextmanager
async def cluster(root: Path) -> AsyncIterator[tuple[MasterApp, WorkerApp]]:
    from pydantic import SecretStr  # not at the top: stdlib and cloudai only there

    master = MasterApp(
        MasterSettings(
            data_dir=root / "master", http_port=0, grpc_port=0, admin_email=EMAIL,
            admin_password=SecretStr(PASSWORD),
        )
    )  # fmt: skip
    await master.start()
    worker = WorkerApp(
        WorkerSettings(
            master=f"127.0.0.1:{master.grpc_port}", token=SecretStr(master.secrets.join_token),
            port=0, id=WORKER_ID, data_dir=root / "worker", executor="process", heartbeat_s=0.5,
        )
    )  # fmt: skip
    try:
        await worker.start()
        await asyncio.wait_for(worker.registered.wait(), 30)
        yield master, worker
    finally:
        await worker.stop()
        await master.stop()


async def check_worker(master: MasterApp, found: int, checks: Checks) -> None:
    """Capacity as registered, and a heartbeat's GPU utilisation (the master's registry:
    the REST API has no worker route)."""
    core = master.core
    assert core is not None
    worker = core.registry.get(WORKER_ID)
    total = worker.total.gpu if worker else None
    checks.check("worker offers the GPUs NVML found", total == found, f"{total} of {found}")
    for _ in range(100):  # a heartbeat every 0.5 s
        worker = core.registry.get(WORKER_ID)
        if worker and worker.last_heartbeat > worker.registered_at:
            break
        await asyncio.sleep(0.1)
    usage = worker.usage.gpu if worker else -1.0
    beat = bool(worker and worker.last_heartbeat > worker.registered_at)
    nvml = await asyncio.to_thread(NvmlProbe().utilisation)
    detail = f"{usage}% reported; NVML now: {nvml}"
    checks.check("heartbeat carries GPU utilisation", beat and 0 <= usage <= 100, detail)


async def check_tasks(http: Http, found: int, checks: Checks) -> None:
    status, log = await http.run_task(1)
    seen = visible_devices(log)
    checks.check("1-GPU task sees exactly 1 device", status == "completed" and seen == 1,
                 f"{status}, {seen} visible; log: {log.strip()!r}")  # fmt: skip
    status, log = await http.run_task(0)
    seen = visible_devices(log)
    checks.check("0-GPU task sees no device", status == "completed" and seen == 0,
                 f"{status}, {seen} visible; log: {log.strip()!r}")  # fmt: skip
    if found >= 2:
        await check_concurrent(http, checks)


async def check_concurrent(http: Http, checks: Checks) -> None:
    # Sleeps so that both run at once; each holds its device until it exits.
    program = CUDA_PROGRAM.replace("sys.exit(0 if", "import time; time.sleep(3)\nsys.exit(0 if")
    ids = [await http.submit(task_body(1, program)) for _ in range(2)]
    results = await asyncio.gather(*(http.finish(task_id) for task_id in ids))
    devices = [visible_env(log) for _status, log in results]
    ok = all(s == "completed" for s, _ in results) and None not in devices
    checks.check("two 1-GPU tasks get different devices", ok and len(set(devices)) == 2,
                 f"CUDA_VISIBLE_DEVICES {devices}")  # fmt: skip


async def run_checks(args: argparse.Namespace, root: Path, checks: Checks) -> None:
    devices = await asyncio.to_thread(NvmlProbe().devices)
    names = ", ".join(f"{d.index}: {d.name} {d.memory_gb} GiB" for d in devices)
    if not checks.check("NVML finds a GPU", bool(devices), names or "none"):
        return
    async with cluster(root) as (master, _worker):
        await check_worker(master, len(devices), checks)
        http = Http(f"http://127.0.0.1:{master.http_port}", args.timeout)
        await http.login()
        await check_tasks(http, len(devices), checks)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    checks = Checks()
    root = Path(tempfile.mkdtemp(prefix="cloudai-gpu-check-"))
    try:
        asyncio.run(run_checks(args, root, checks))
    except Exception as exc:  # a crash is a failed check, with the reason shown
        logging.getLogger("gpu_check").exception("the check crashed")
        checks.check("the check ran to the end", False, repr(exc))
    finally:
        if args.keep:
            print(f"data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print("PASS all checks" if checks.exit_code == 0 else f"FAIL {len(checks.failed)} checks")
    return checks.exit_code


if __name__ == "__main__":
    sys.exit(main())
