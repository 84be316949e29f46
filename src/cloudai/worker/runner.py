"""The runner owns this worker's attempts: accept, execute, ship, report, forget.

An attempt stays listed (and so in every heartbeat) until the master has its result;
its record stays on disk until then too (`spool.py`), so a restarted worker still
delivers it. Deliveries have bounded, explicit outcomes (`delivery.py`); the master
treats repeats as no-ops. A stop by the worker's own shutdown is an interruption (the
master requeues the task without spending a retry), never a cancellation.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from cloudai.domain.attempts import (
    PHASE_CREATING,
    PHASE_PULLING,
    PHASE_STARTED,
    Assignment,
    FinishedAttempt,
    HeldAttempt,
)
from cloudai.domain.errors import CloudAIError, Conflict, Unavailable
from cloudai.domain.task import AttemptReport, Failure, TaskStatus, parse_failure
from cloudai.worker import spool
from cloudai.worker.delivery import LOG_FILE_NAME, Delivery
from cloudai.worker.executors.base import (
    ExecutionSpec,
    Executor,
    ExitStatus,
)
from cloudai.worker.gpus import GpuAllocator
from cloudai.worker.master_link import MasterLink
from cloudai.worker.outputs import CollectedOutputs, collect_outputs

logger = logging.getLogger(__name__)

_LOG_TAIL = 64 * 1024
_RETRY_MAX_S = 5.0
_START_REPORT_TRIES = 5  # then the next heartbeat, which says "running", settles it
# Forwarded as they come (pulling, creating): one try each, since they only inform.
_PROGRESS_PHASES = frozenset({PHASE_PULLING, PHASE_CREATING})


@dataclass(frozen=True, slots=True)
class SpoolLimits:
    max_age_s: float = 24 * 3600.0
    max_bytes: int = 20 * 1024**3
    stop_report_s: float = 10.0  # how long a stopping worker tries to report; then spooled


@dataclass(slots=True)
class AttemptRun:
    assignment: Assignment
    spec: ExecutionSpec
    started_ms: int
    started: bool = False  # the container (or process) really runs
    interrupted: bool = False  # stopped by this worker's shutdown, not by a cancel
    done: asyncio.Event = field(default_factory=asyncio.Event)
    status: ExitStatus | None = None
    task: asyncio.Task[None] | None = None
    last_report: asyncio.Task[None] | None = None  # reports go out in order


def spec_for(
    assignment: Assignment, attempt_dir: Path, gpu_ids: tuple[int, ...] = ()
) -> ExecutionSpec:
    return ExecutionSpec(
        task_id=assignment.task_id,
        epoch=assignment.epoch,
        image=assignment.image,
        command=assignment.command,
        cpu=assignment.request.cpu,
        memory_gb=assignment.request.memory_gb,
        gpu=assignment.request.gpu,
        output_dir=attempt_dir / "output",
        log_path=attempt_dir / LOG_FILE_NAME,
        env=dict(assignment.env),
        gpu_ids=gpu_ids,
    )


class Runner:
    def __init__(
        self,
        worker_id: str,
        executor: Executor,
        link: MasterLink,
        data_dir: Path,
        gpus: GpuAllocator | None = None,
        spool_limits: SpoolLimits | None = None,
    ) -> None:
        self._worker_id = worker_id
        self._executor = executor
        self._link = link
        self.gpus = gpus or GpuAllocator()
        self._limits = spool_limits or SpoolLimits()
        self._delivery = Delivery(link, max_age_s=self._limits.max_age_s)
        self._attempts_dir = data_dir / "attempts"
        self._runs: dict[tuple[str, int], AttemptRun] = {}
        self._stopping: set[asyncio.Task[bool]] = set()
        self._reports: set[asyncio.Task[None]] = set()

    def held(self) -> list[HeldAttempt]:
        """Every listed attempt as heartbeats carry it."""
        return [
            HeldAttempt(key[0], key[1], run.started, run.assignment.request)
            for key, run in self._runs.items()
        ]

    def find(self, task_id: str, epoch: int) -> AttemptRun | None:
        if epoch:
            return self._runs.get((task_id, epoch))
        matches = [run for key, run in self._runs.items() if key[0] == task_id]
        return max(matches, key=lambda r: r.spec.epoch) if matches else None

    def accept(self, assignment: Assignment) -> None:
        """Start an attempt; accepting the same attempt twice is a no-op. Refused
        (Conflict) when the GPUs it asks for are not free here."""
        if not assignment.task_id or assignment.epoch <= 0:
            raise Conflict("task_id and a positive epoch are required")
        key = assignment.key
        if key in self._runs:
            return
        try:
            gpu_ids = self.gpus.take(*key, assignment.request.gpu)
        except Conflict as exc:
            raise Conflict(f"refused task {assignment.task_id}: {exc}") from exc
        try:
            spec = self._prepare(assignment, gpu_ids)
        except BaseException:
            self.gpus.release(*key)
            raise
        run = AttemptRun(assignment, spec, _now_ms())
        self._runs[key] = run
        run.task = asyncio.create_task(self._drive(run), name=f"attempt-{key}")

    def _prepare(self, assignment: Assignment, gpu_ids: tuple[int, ...]) -> ExecutionSpec:
        attempt_dir = self._attempts_dir / f"{assignment.task_id}-{assignment.epoch}"
        spec = spec_for(assignment, attempt_dir, gpu_ids)
        spec.output_dir.mkdir(parents=True, exist_ok=True)
        spec.log_path.touch()
        spool.save_assignment(attempt_dir, assignment)
        return spec

    def cancel(self, task_id: str, epoch: int, grace_s: float) -> bool:
        """Begin stopping an attempt (SIGTERM, grace, SIGKILL) without waiting for it:
        the caller's RPC must not hang on a task that ignores SIGTERM. True if known."""
        run = self.find(task_id, epoch)
        if run is None or run.done.is_set():
            return False
        stop = self._executor.stop(run.spec.task_id, run.spec.epoch, grace_s)
        stopping = asyncio.create_task(stop, name=f"stop-{task_id}-{epoch}")
        self._stopping.add(stopping)
        stopping.add_done_callback(self._stopping.discard)
        return True

    def interrupt_all(self, grace_s: float) -> int:
        """Begin stopping every running attempt as interrupted (the worker is cut off
        from the master); returns how many were newly stopped."""
        stopped = 0
        for run in self._runs.values():
            if run.done.is_set() or run.interrupted:
                continue
            run.interrupted = True
            stopped += self.cancel(run.spec.task_id, run.spec.epoch, grace_s)
        return stopped

    async def recover(self) -> int:
        """On start: deliver the results a previous process of this worker left, clear
        the attempts that never ended (nothing runs them now). Returns how many results
        go out again; they are listed in heartbeats until delivered."""
        records, unreadable = await asyncio.to_thread(spool.scan, self._attempts_dir)
        dropped = spool.over_limits(
            records, now=time.time(), max_age_s=self._limits.max_age_s,
            max_bytes=self._limits.max_bytes,
        )  # fmt: skip
        for record in dropped:
            logger.error("spooled result of %s dropped (too old, or spool over its size cap)",
                         f"{record.assignment.task_id}/{record.assignment.epoch}")  # fmt: skip
        kept = [r for r in records if r.finished is not None and r not in dropped]
        stale = unreadable + [r.directory for r in records if r.finished is None or r in dropped]
        for directory in stale:
            await asyncio.to_thread(shutil.rmtree, directory, True)
        for record in kept:
            assert record.finished is not None
            run = AttemptRun(record.assignment, spec_for(record.assignment, record.directory),
                             record.finished.started_at_ms, started=True)  # fmt: skip
            run.done.set()
            self._runs[run.assignment.key] = run
            run.task = asyncio.create_task(
                self._ship(run, record.finished), name=f"resend-{run.assignment.key}"
            )
        return len(kept)

    async def _drive(self, run: AttemptRun) -> None:
        try:
            run.status = await self._executor.run(
                run.spec,
                lambda: self._started(run),
                progress=lambda phase, message: self._progress(run, phase, message),
            )
        except Exception as exc:  # an executor bug still ends the attempt, and is reported
            logger.exception("executor failed", extra={"task_id": run.spec.task_id})
            run.status = ExitStatus(exit_code=None, error=f"executor failed: {exc}")
        finally:
            # Free as soon as nothing runs (also when close() cancels this): the
            # delivery below may wait long for an unreachable master.
            self.gpus.release(*run.spec.key)
        run.done.set()
        finished = await asyncio.to_thread(self._finish, run, run.status)
        await self._ship(run, finished)

    def _finish(self, run: AttemptRun, status: ExitStatus) -> FinishedAttempt:
        """The attempt's result, written to its record before anything is sent."""
        outputs = collect_outputs(run.spec.output_dir)
        if outputs.skipped or outputs.escaped:  # said where the user looks: the log's end
            _note_outputs(run.spec.log_path, outputs)
        outcome, reason, failure = _outcome(status, run.interrupted)
        log_size = run.spec.log_path.stat().st_size
        report = AttemptReport(
            task_id=run.spec.task_id, epoch=run.spec.epoch, worker_id=self._worker_id,
            outcome=outcome, exit_code=status.exit_code, reason=reason,
            oom_killed=status.oom_killed, log_size=log_size, failure=failure,
        )  # fmt: skip
        finished = FinishedAttempt(
            report, _tail(run.spec.log_path, log_size), tuple(f.rel_path for f in outputs.files),
            run.started_ms, _now_ms(),
        )  # fmt: skip
        spool.save_finished(run.spec.log_path.parent, finished)
        return finished

    async def _ship(self, run: AttemptRun, finished: FinishedAttempt) -> None:
        """Deliver, then forget the attempt and its record. Stopped first (the worker
        shuts down): the record stays for the next start."""
        outputs = await asyncio.to_thread(collect_outputs, run.spec.output_dir)
        directory = run.spec.log_path.parent
        await self._delivery.deliver(run.assignment, finished, outputs, directory)
        self._runs.pop(run.spec.key, None)
        await asyncio.to_thread(shutil.rmtree, directory, True)

    def _started(self, run: AttemptRun) -> None:
        """Tell the master at once (in the background); heartbeats repeat it anyway."""
        run.started = True
        self._send_report(run, PHASE_STARTED, "")

    def _progress(self, run: AttemptRun, phase: str, message: str) -> None:
        """A start-up step (pulling, creating) for the task's events."""
        if phase in _PROGRESS_PHASES and not run.started:
            self._send_report(run, phase, message)

    def _send_report(self, run: AttemptRun, phase: str, message: str) -> None:
        previous, at_ms = run.last_report, _now_ms()
        report = asyncio.create_task(
            self._report(run, phase, message, at_ms, previous), name=f"{phase}-{run.spec.key}"
        )
        run.last_report = report
        self._reports.add(report)
        report.add_done_callback(self._reports.discard)

    async def _report(
        self,
        run: AttemptRun,
        phase: str,
        message: str,
        at_ms: int,
        previous: asyncio.Task[None] | None,
    ) -> None:
        if previous is not None:  # after the one before: "creating" never overtakes "pulling"
            await asyncio.wait({previous})
        task_id, epoch = run.spec.key
        delay = 0.2
        for attempt in range(_START_REPORT_TRIES if phase == PHASE_STARTED else 1):
            if attempt:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
            try:
                await self._link.progress(task_id, epoch, phase, at_ms, message)
                return
            except Unavailable as exc:
                logger.warning("%s report not delivered: %s", phase, exc)
            except CloudAIError as exc:  # superseded or unknown: the heartbeat settles it
                logger.info("%s report refused: %s", phase, exc)
                return

    async def close(self, grace_s: float) -> None:
        """Shutdown: stop every attempt (containers do not outlive their worker) as
        interrupted, give their results a bounded time to reach the master, and leave
        the rest spooled for the next start."""
        runs = list(self._runs.values())
        for run in runs:
            run.interrupted = not run.done.is_set()
        await asyncio.gather(
            *(self._executor.stop(*r.spec.key, grace_s) for r in runs if r.interrupted),
            *self._stopping,
        )
        tasks = [run.task for run in runs if run.task]
        if tasks:
            await asyncio.wait(tasks, timeout=self._limits.stop_report_s)
        for task in [*tasks, *self._reports]:
            task.cancel()
        await asyncio.gather(*tasks, *self._reports, return_exceptions=True)


def _outcome(status: ExitStatus, interrupted: bool) -> tuple[TaskStatus, str, Failure | None]:
    """The outcome, its reason and the failure kind that decides a retry."""
    if status.succeeded:
        return TaskStatus.COMPLETED, "exit code 0", None
    if interrupted:
        return TaskStatus.FAILED, "interrupted: the worker stopped", Failure.INTERRUPTED
    if status.cancelled:
        return TaskStatus.CANCELLED, "cancelled", Failure.CANCELLED
    if status.error:
        return TaskStatus.FAILED, status.error, parse_failure(status.failure) or Failure.EXECUTOR
    if status.oom_killed:
        return TaskStatus.FAILED, "out of memory", Failure.OOM
    return TaskStatus.FAILED, f"exit code {status.exit_code}", Failure.EXIT


def _note_outputs(log_path: Path, outputs: CollectedOutputs) -> None:
    with log_path.open("a", encoding="utf-8") as log:
        for entry in outputs.skipped:
            log.write(f"[cloudai] not collected from /output: {entry}\n")
        for name in outputs.escaped:
            log.write(f"[cloudai] kept under an escaped name (not UTF-8): {name}\n")


def _tail(path: Path, size: int) -> str:
    with path.open("rb") as handle:
        handle.seek(max(size - _LOG_TAIL, 0))
        return handle.read().decode("utf-8", errors="replace")


def _now_ms() -> int:
    return int(time.time() * 1000)
