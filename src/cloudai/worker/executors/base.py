"""The contract between the worker and whatever actually runs a task.

An executor turns an `ExecutionSpec` into a finished `ExitStatus`. Task failures
(non-zero exit, missing image, daemon errors) are *results*, never exceptions, so
the worker's bookkeeping has a single path; only programming errors raise.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# Where the task sees its output directory inside a container.
CONTAINER_OUTPUT_DIR = "/output"

# (phase, message) -> None; called on the event loop's thread, never raises.
Progress = Callable[[str, str], None]


class ExecutorError(Exception):
    """The backend itself is unusable (e.g. the docker daemon is unreachable).

    Raised only by maintenance calls such as `reap_orphans`; `run` reports such
    problems in `ExitStatus.error` instead.
    """


class LeftRunning(Exception):
    """Raised by `run` for a run that `leave` left running: no outcome, the next start
    of the worker adopts it."""


@dataclass(frozen=True, slots=True)
class ExecutionSpec:
    task_id: str
    epoch: int
    image: str
    # str -> ["/bin/sh", "-c", command]; list -> argv as is; None -> the image's default
    command: str | list[str] | None
    cpu: float  # cores
    memory_gb: float
    gpu: int
    output_dir: Path  # host directory; mounted read-write at /output in containers
    log_path: Path  # stdout+stderr bytes are appended here as they arrive
    env: Mapping[str, str] = field(default_factory=dict)  # the task's own variables
    gpu_ids: tuple[int, ...] = ()  # the devices this attempt holds (NVML indexes)
    max_log_bytes: int | None = None  # the log's cap (worker.logcap); None: none

    @property
    def key(self) -> tuple[str, int]:
        return (self.task_id, self.epoch)


@dataclass(frozen=True, slots=True)
class ExitStatus:
    exit_code: int | None  # None when the process never started
    oom_killed: bool = False
    error: str = ""  # why it could not start or run; "" when it ran
    cancelled: bool = False  # stopped by Executor.stop()
    # Why it never ran, when `error` is set: "image" (not found, unauthorised: final),
    # "pull_timeout" (retried), or "" (the executor's own failure: retried).
    failure: str = ""

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.error and not self.cancelled


class Executor(Protocol):
    name: str
    sandboxed: bool
    leaves_running: bool  # leave() keeps runs going for the next start to adopt

    async def run(
        self,
        spec: ExecutionSpec,
        started: Callable[[], None] = ...,
        *,
        progress: Progress = ...,
        adopt: bool = False,
    ) -> ExitStatus:
        """Run to completion; call `started` once the container (or process) really
        runs — not when it is only pulled or created — and `progress` for the steps
        before that (`PHASE_PULLING`, `PHASE_CREATING` of `domain.attempts`, with a
        line for the user). Never raises for task failures.

        `adopt`: the run is one of `leftovers()`, started by an earlier process of this
        worker: follow it to its end instead of starting it, appending to the spec's log
        only the bytes it does not hold yet."""
        ...

    async def stop(self, task_id: str, epoch: int, grace_s: float = 10.0) -> bool:
        """SIGTERM, wait `grace_s`, SIGKILL. True if something was running."""
        ...

    async def running(self) -> list[tuple[str, int]]:
        """(task_id, epoch) of every run currently in progress."""
        ...

    async def usage(self) -> dict[tuple[str, int], tuple[float, float]]:
        """(cores, GiB of memory) that each running run uses now, for those it can
        measure (none: an empty mapping)."""
        ...

    async def leftovers(self) -> list[tuple[str, int]]:
        """(task_id, epoch) of the runs an earlier process of this worker left, running
        or ended but not removed: those `run(..., adopt=True)` can follow. Raises
        ExecutorError when the backend is unusable."""
        ...

    async def reap_orphans(self, keep: Collection[tuple[str, int]] = ()) -> int:
        """Remove leftovers of an earlier process of this worker, except those of the
        attempts in `keep` (adopted); return the count."""
        ...

    async def leave(self) -> None:
        """The worker exits leaving its started runs running, for its next start to
        adopt: from now on a run that is cancelled (asyncio) or closed stops following
        its output and keeps its container. Runs not started yet are unaffected. Asked
        only of an executor whose `leaves_running` is True."""
        ...

    async def close(self) -> None:
        """Stop everything still running and release clients."""
        ...


def nothing() -> None:
    """The default `started` callback."""


def no_progress(phase: str, message: str) -> None:
    """The default `progress` callback."""


def shell_argv(command: str | list[str] | None) -> list[str] | None:
    """The argv a command stands for: a string goes through `/bin/sh -c`."""
    if command is None:
        return None
    if isinstance(command, str):
        return ["/bin/sh", "-c", command]
    return list(command)
