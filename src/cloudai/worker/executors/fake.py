"""A scripted executor for testing the components around executors.

    executor = FakeExecutor(lambda spec: FakeRun(lines=["hi"], files={"a.txt": b"1"}))
    status = await executor.run(spec)          # writes the log line and the file, exit 0

    executor = FakeExecutor(lambda spec: FakeRun(block=True))
    task = asyncio.create_task(executor.run(spec))
    await executor.wait_started(spec.task_id, spec.epoch)
    await executor.stop(spec.task_id, spec.epoch)   # -> run() returns cancelled=True

Everything is driven by asyncio events; nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cloudai.worker.executors.base import (
    ExecutionSpec,
    ExitStatus,
    Progress,
    no_progress,
    nothing,
)

# What a SIGTERMed process reports (128 + 15); a stopped fake run reports the same.
CANCELLED_EXIT_CODE = 143


@dataclass(frozen=True, slots=True)
class FakeRun:
    """The scripted outcome of one run."""

    lines: list[str] = field(default_factory=list)  # appended to the log, one per line
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> content
    exit_code: int | None = 0
    error: str = ""
    block: bool = False  # stay running until stop() or finish()
    oom_killed: bool = False
    # (phase, message) reported through `progress` before anything else happens
    progress: list[tuple[str, str]] = field(default_factory=list)


@dataclass(eq=False)
class _Active:
    release: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: bool = False


class FakeExecutor:
    name = "fake"
    leaves_running = True

    def __init__(
        self,
        script: Callable[[ExecutionSpec], FakeRun] | None = None,
        *,
        sandboxed: bool = True,
    ) -> None:
        self.script = script or (lambda _spec: FakeRun())
        self.sandboxed = sandboxed
        self.specs: list[ExecutionSpec] = []  # every spec run() got, in order
        self.stops: list[tuple[str, int]] = []  # every stop() request, in order
        self.orphans = 0  # what the next reap_orphans() reports
        self.left: list[tuple[str, int]] = []  # what leftovers() reports
        self.adopted: list[tuple[str, int]] = []  # every run(adopt=True), in order
        self.kept: set[tuple[str, int]] = set()  # what the last reap_orphans() kept
        self.leaving = False
        self.used: dict[tuple[str, int], tuple[float, float]] = {}  # what usage() reports
        self.closed = False
        self._active: dict[tuple[str, int], _Active] = {}
        self._started: dict[tuple[str, int], asyncio.Event] = {}
        self._stopped: dict[tuple[str, int], asyncio.Event] = {}

    async def run(
        self,
        spec: ExecutionSpec,
        started: Callable[[], None] = nothing,
        *,
        progress: Progress = no_progress,
        adopt: bool = False,
    ) -> ExitStatus:
        self.specs.append(spec)
        if adopt:
            self.adopted.append(spec.key)
        outcome = self.script(spec)
        for phase, message in outcome.progress:
            progress(phase, message)
        if outcome.exit_code is not None or outcome.block:
            started()  # a scripted run that never started (exit_code None) says nothing
        _write_outputs(spec, outcome)
        status = ExitStatus(
            exit_code=outcome.exit_code, oom_killed=outcome.oom_killed, error=outcome.error
        )
        if not outcome.block:
            self._started_event(spec.key).set()
            return status
        active = self._active[spec.key] = _Active()
        self._started_event(spec.key).set()
        try:
            await active.release.wait()
        finally:
            del self._active[spec.key]
        if active.cancelled:
            return ExitStatus(exit_code=CANCELLED_EXIT_CODE, cancelled=True)
        return status

    async def stop(self, task_id: str, epoch: int, grace_s: float = 10.0) -> bool:
        self.stops.append((task_id, epoch))
        self._stopped_event((task_id, epoch)).set()
        active = self._active.get((task_id, epoch))
        if active is None:
            return False
        active.cancelled = True
        active.release.set()
        return True

    async def running(self) -> list[tuple[str, int]]:
        return list(self._active)

    async def usage(self) -> dict[tuple[str, int], tuple[float, float]]:
        return {key: used for key, used in self.used.items() if key in self._active}

    async def leftovers(self) -> list[tuple[str, int]]:
        return list(self.left)

    async def reap_orphans(self, keep: Collection[tuple[str, int]] = ()) -> int:
        self.kept = set(keep)
        reaped, self.orphans = self.orphans, 0
        return reaped

    async def leave(self) -> None:
        self.leaving = True

    async def close(self) -> None:
        self.closed = True
        for task_id, epoch in list(self._active):
            await self.stop(task_id, epoch)

    # -- test helpers ----------------------------------------------------------------

    async def wait_started(self, task_id: str, epoch: int) -> None:
        """Return once run() for (task_id, epoch) has written its log and files."""
        await self._started_event((task_id, epoch)).wait()

    async def wait_stopped(self, task_id: str, epoch: int) -> None:
        """Return once stop() was asked for (task_id, epoch)."""
        await self._stopped_event((task_id, epoch)).wait()

    def finish(self, task_id: str, epoch: int) -> bool:
        """Let a blocked run complete with its scripted outcome. True if one was blocked."""
        active = self._active.get((task_id, epoch))
        if active is None:
            return False
        active.release.set()
        return True

    def _started_event(self, key: tuple[str, int]) -> asyncio.Event:
        return self._started.setdefault(key, asyncio.Event())

    def _stopped_event(self, key: tuple[str, int]) -> asyncio.Event:
        return self._stopped.setdefault(key, asyncio.Event())


def _write_outputs(spec: ExecutionSpec, outcome: FakeRun) -> None:
    if outcome.lines:
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with spec.log_path.open("ab") as log:
            log.write("".join(f"{line}\n" for line in outcome.lines).encode())
    for rel, content in outcome.files.items():
        target = _inside(spec.output_dir, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _inside(root: Path, rel: str) -> Path:
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
        raise ValueError(f"FakeRun file path must be relative and inside the output: {rel!r}")
    return root.joinpath(*parts)
