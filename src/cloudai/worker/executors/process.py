"""Runs tasks as plain local processes: UNSANDBOXED, for development and trusted setups.

The task runs with the worker's own user, network and filesystem; `image` is ignored.
Its command runs in a fresh scratch directory (removed afterwards) and in a new session
so that stop() can signal the whole process group.

Nothing in the command is rewritten: a command written for a container that writes to
`/output` writes to the host's `/output`. Tasks meant to run here must write their
outputs to `$CLOUDAI_OUTPUT_DIR` (also exported as `$OUTPUT_DIR`).

GPUs are not fenced, only hidden: `CUDA_VISIBLE_DEVICES` lists the attempt's devices
(empty when it holds none), which CUDA programs honour.

The log file is handed to the child as its stdout and stderr (opened for appending),
so bytes reach it exactly as written, with no copy loop in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from asyncio.subprocess import Process
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cloudai.worker.executors.base import (
    ExecutionSpec,
    ExitStatus,
    Progress,
    no_progress,
    nothing,
    shell_argv,
)

_CLOSE_GRACE_S = 10.0


@dataclass(eq=False)
class _Run:
    spec: ExecutionSpec
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # orders spawn vs. stop
    done: asyncio.Event = field(default_factory=asyncio.Event)
    proc: Process | None = None
    exited: bool = False
    cancelled: bool = False
    on_started: Callable[[], None] = nothing


class ProcessExecutor:
    name = "process"
    sandboxed = False
    leaves_running = False

    def __init__(self, worker_id: str = "", *, scratch_root: Path | None = None) -> None:
        self.worker_id = worker_id
        self._scratch_root = scratch_root
        self._runs: dict[tuple[str, int], _Run] = {}
        self._closed = False

    async def run(
        self,
        spec: ExecutionSpec,
        started: Callable[[], None] = nothing,
        *,
        progress: Progress = no_progress,  # a process has no start-up steps to report
        adopt: bool = False,
    ) -> ExitStatus:
        if adopt:  # leftovers() lists none
            return ExitStatus(exit_code=None, error="the process executor adopts no runs")
        argv = shell_argv(spec.command)
        if argv is None:
            return ExitStatus(
                exit_code=None, error="the process executor needs a command (it runs no images)"
            )
        if self._closed:
            return ExitStatus(exit_code=None, error="the process executor is closed")
        if spec.key in self._runs:
            return ExitStatus(exit_code=None, error=f"{spec.key} is already running here")
        run = _Run(spec, on_started=started)
        self._runs[spec.key] = run
        try:
            return await self._run(run, argv)
        finally:
            del self._runs[spec.key]
            run.done.set()

    async def stop(self, task_id: str, epoch: int, grace_s: float = 10.0) -> bool:
        run = self._runs.get((task_id, epoch))
        if run is None or run.exited:
            return False
        run.cancelled = True  # a run not spawned yet sees this and never spawns
        async with run.lock:
            if run.proc is not None and run.proc.returncode is None:
                await _terminate(run.proc, grace_s)
        return True

    async def running(self) -> list[tuple[str, int]]:
        return list(self._runs)

    async def usage(self) -> dict[tuple[str, int], tuple[float, float]]:
        return {}  # not measured: a process has no cgroup of its own here

    async def leftovers(self) -> list[tuple[str, int]]:
        # Processes of an earlier worker process cannot be told apart reliably from
        # unrelated ones (no labels, PIDs get reused): none is adopted...
        return []

    async def reap_orphans(self, keep: Collection[tuple[str, int]] = ()) -> int:
        # ...and none is touched.
        return 0

    async def leave(self) -> None:
        """Never asked for (`leaves_running` is False): a process cannot be followed
        again after a restart."""

    async def close(self) -> None:
        self._closed = True
        runs = list(self._runs.values())
        await asyncio.gather(*(self.stop(*r.spec.key, _CLOSE_GRACE_S) for r in runs))
        for run in runs:
            await run.done.wait()

    async def _run(self, run: _Run, argv: list[str]) -> ExitStatus:
        spec = run.spec
        try:
            scratch, log_file = await asyncio.to_thread(self._prepare, spec)
        except OSError as exc:
            return ExitStatus(exit_code=None, error=f"cannot prepare the task's files: {exc}")
        try:
            async with run.lock:
                if run.cancelled:
                    return ExitStatus(exit_code=None, cancelled=True)
                try:
                    run.proc = await asyncio.create_subprocess_exec(
                        *argv,
                        cwd=scratch,
                        env=self._env(spec),
                        stdin=asyncio.subprocess.DEVNULL,
                        stdout=log_file,
                        stderr=asyncio.subprocess.STDOUT,
                        start_new_session=True,  # its own process group, for stop()
                    )
                except OSError as exc:
                    return ExitStatus(exit_code=None, error=f"cannot start {argv[0]!r}: {exc}")
                run.on_started()
            returncode = await run.proc.wait()
            run.exited = True
            return ExitStatus(exit_code=_exit_code(returncode), cancelled=run.cancelled)
        finally:
            log_file.close()
            await asyncio.to_thread(shutil.rmtree, scratch, ignore_errors=True)

    def _prepare(self, spec: ExecutionSpec) -> tuple[Path, BinaryIO]:
        spec.output_dir.mkdir(parents=True, exist_ok=True)
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._scratch_root is not None:
            self._scratch_root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="cloudai-task-", dir=self._scratch_root))
        try:
            return scratch, spec.log_path.open("ab")
        except OSError:
            shutil.rmtree(scratch, ignore_errors=True)
            raise

    @staticmethod
    def _env(spec: ExecutionSpec) -> dict[str, str]:
        output_dir = str(spec.output_dir.resolve())
        # A clean environment: the worker's own (join token, admin password, database
        # URL...) must not leak into the task.
        inherited = {k: v for k, v in os.environ.items() if k in _INHERITED_ENV}
        return {
            **inherited,
            **spec.env,
            "CLOUDAI_OUTPUT_DIR": output_dir,
            "OUTPUT_DIR": output_dir,
            "CLOUDAI_TASK_ID": spec.task_id,
            "CLOUDAI_EPOCH": str(spec.epoch),
            # Only the attempt's own devices ("" hides them all), numbered as NVML
            # numbers them: CUDA's default order puts the fastest first.
            "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in spec.gpu_ids),
            "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        }


# LD_LIBRARY_PATH: where GPU machines often keep libcuda and the CUDA libraries.
_INHERITED_ENV = frozenset(
    {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "SHELL", "LD_LIBRARY_PATH"}
)


async def _terminate(proc: Process, grace_s: float) -> None:
    """SIGTERM the process group, give it `grace_s`, then SIGKILL it."""
    _signal_group(proc, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout=grace_s)
    except TimeoutError:
        _signal_group(proc, signal.SIGKILL)
        await proc.wait()


def _signal_group(proc: Process, sig: signal.Signals) -> None:
    if proc.returncode is not None:
        return  # reaped: its PID (and group id) may already belong to someone else
    # The group may be gone between the check and the call: nothing left to signal.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _exit_code(returncode: int) -> int:
    """A signal death (-N from asyncio) as a shell or docker reports it: 128 + N."""
    return 128 - returncode if returncode < 0 else returncode
