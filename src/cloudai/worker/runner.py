"""The runner owns this worker's attempts: accept, execute, ship, report, forget.

An attempt stays listed (and so in every heartbeat) until the master has its result;
its record stays on disk until then too (`spool.py`), so a restarted worker still
delivers it. Deliveries have bounded, explicit outcomes (`delivery.py`); the master
treats repeats as no-ops. A stop by the worker's own shutdown is an interruption (the
master requeues the task without spending a retry), never a cancellation.

A restarted worker adopts the attempts whose containers outlived its last process
(killed, or stopped in the `leave` mode): same attempt, same epoch, its log continued
from the byte the spool holds (`recover`). Shutdown modes (`close`, `drain`): `stop`
interrupts what runs, `drain` first lets it finish while taking nothing new, `leave`
exits and lets started containers run on for the next start.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Collection, Mapping
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
from cloudai.domain.task import AttemptReport
from cloudai.worker import spool
from cloudai.worker.delivery import LOG_FILE_NAME, Delivery
from cloudai.worker.executors.base import (
    ExecutionSpec,
    Executor,
    ExitStatus,
    LeftRunning,
)
from cloudai.worker.gpus import GpuAllocator
from cloudai.worker.limits import AttemptLimits, Recovered, ShutdownMode, SpoolLimits
from cloudai.worker.logcap import LogCap, cap_file
from cloudai.worker.master_link import MasterLink
from cloudai.worker.outputs import CollectedOutputs, collect_outputs
from cloudai.worker.results import ended_as, log_tail, note_outputs

logger = logging.getLogger(__name__)

_RETRY_MAX_S = 5.0
_START_REPORT_TRIES = 5  # then the next heartbeat, which says "running", settles it
# Forwarded as they come (pulling, creating): one try each, since they only inform.
_PROGRESS_PHASES = frozenset({PHASE_PULLING, PHASE_CREATING})


@dataclass(slots=True)
class AttemptRun:
    assignment: Assignment
    spec: ExecutionSpec
    started_ms: int
    started: bool = False  # the container (or process) really runs
    adopted: bool = False  # started by an earlier process of this worker
    interrupted: bool = False  # stopped by this worker's shutdown, not by a cancel
    done: asyncio.Event = field(default_factory=asyncio.Event)
    status: ExitStatus | None = None
    task: asyncio.Task[None] | None = None
    last_report: asyncio.Task[None] | None = None  # reports go out in order


def spec_for(
    assignment: Assignment,
    attempt_dir: Path,
    gpu_ids: tuple[int, ...] = (),
    limits: AttemptLimits | None = None,
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
        max_log_bytes=(limits or AttemptLimits()).max_log_bytes,
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
        attempt_limits: AttemptLimits | None = None,
    ) -> None:
        self._worker_id = worker_id
        self._executor = executor
        self._link = link
        self.gpus = gpus or GpuAllocator()
        self._limits = spool_limits or SpoolLimits()
        self.attempt_limits = attempt_limits or AttemptLimits()
        self._delivery = Delivery(link, max_age_s=self._limits.max_age_s)
        self._attempts_dir = data_dir / "attempts"
        self._runs: dict[tuple[str, int], AttemptRun] = {}
        self._stopping: set[asyncio.Task[bool]] = set()
        self._reports: set[asyncio.Task[None]] = set()
        self.draining = False  # drain(): no new attempts

    def held(
        self, usage: Mapping[tuple[str, int], tuple[float, float]] | None = None
    ) -> list[HeldAttempt]:
        """Every listed attempt as heartbeats carry it, with what `usage` says it uses
        now (cores, GiB of memory)."""
        used = usage or {}
        return [
            HeldAttempt(
                key[0], key[1], run.started, run.assignment.request, *used.get(key, (None, None))
            )
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
        if self.draining:
            raise Conflict(f"refused task {assignment.task_id}: this worker is draining")
        try:
            gpu_ids = self.gpus.take(*key, assignment.request.gpu)
        except Conflict as exc:
            raise Conflict(f"refused task {assignment.task_id}: {exc}") from exc
        accepted_ms = _now_ms()
        try:
            spec = self._prepare(assignment, gpu_ids, accepted_ms)
        except BaseException:
            self.gpus.release(*key)
            raise
        run = AttemptRun(assignment, spec, accepted_ms)
        self._runs[key] = run
        run.task = asyncio.create_task(self._drive(run), name=f"attempt-{key}")

    def _prepare(
        self, assignment: Assignment, gpu_ids: tuple[int, ...], accepted_ms: int
    ) -> ExecutionSpec:
        attempt_dir = self._attempts_dir / f"{assignment.task_id}-{assignment.epoch}"
        spec = spec_for(assignment, attempt_dir, gpu_ids, self.attempt_limits)
        spec.output_dir.mkdir(parents=True, exist_ok=True)
        spec.log_path.touch()
        spool.save_assignment(attempt_dir, assignment, gpu_ids, accepted_ms)
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

    async def recover(self, leftovers: Collection[tuple[str, int]] = ()) -> Recovered:
        """On start: deliver the results a previous process of this worker left, adopt
        the attempts that never ended here but are among the executor's `leftovers`
        (their containers outlived that process), clear the others (nothing runs them
        now). Both kinds are listed in heartbeats until the master has their results; an
        adopted attempt the master no longer wants is stopped at its answer."""
        records, unreadable = await asyncio.to_thread(spool.scan, self._attempts_dir)
        dropped = spool.over_limits(
            records, now=time.time(), max_age_s=self._limits.max_age_s,
            max_bytes=self._limits.max_bytes,
        )  # fmt: skip
        for record in dropped:
            logger.error("spooled result of %s dropped (too old, or spool over its size cap)",
                         f"{record.assignment.task_id}/{record.assignment.epoch}")  # fmt: skip
        kept = [r for r in records if r.finished is not None and r not in dropped]
        alive = set(leftovers)
        adopt = [r for r in records if r.finished is None and r.assignment.key in alive]
        stale = unreadable + [
            r.directory for r in records if (r.finished is None and r not in adopt) or r in dropped
        ]
        for directory in stale:
            await asyncio.to_thread(shutil.rmtree, directory, True)
        for record in adopt:
            self._adopt(record)
        for record in kept:
            assert record.finished is not None
            run = AttemptRun(record.assignment, spec_for(record.assignment, record.directory),
                             record.finished.started_at_ms, started=True)  # fmt: skip
            run.done.set()
            self._runs[run.assignment.key] = run
            run.task = asyncio.create_task(
                self._ship(run, record.finished), name=f"resend-{run.assignment.key}"
            )
        return Recovered(len(kept), len(adopt), len(stale) - len(dropped))

    def _adopt(self, record: spool.Spooled) -> None:
        """Follow an attempt an earlier process of this worker started, to its end."""
        assignment = record.assignment
        gpu_ids = self.gpus.hold(*assignment.key, record.gpu_ids)
        spec = spec_for(assignment, record.directory, gpu_ids, self.attempt_limits)
        run = AttemptRun(
            assignment, spec, record.accepted_ms or _now_ms(), started=True, adopted=True
        )
        self._runs[assignment.key] = run
        run.task = asyncio.create_task(self._drive(run), name=f"adopted-{assignment.key}")
        logger.info("re-attached to task %s/%d", *assignment.key)

    async def _drive(self, run: AttemptRun) -> None:
        try:
            run.status = await self._executor.run(
                run.spec,
                lambda: self._started(run),
                progress=lambda phase, message: self._progress(run, phase, message),
                adopt=run.adopted,
            )
        except LeftRunning:  # the worker exits and leaves it running: the next start adopts it
            self.gpus.release(*run.spec.key)
            return
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
        if run.spec.max_log_bytes:  # an executor that wrote it straight to disk
            cap_file(run.spec.log_path, LogCap(run.spec.max_log_bytes))
        outputs = self._collect(run)
        if outputs.skipped or outputs.escaped:  # said where the user looks: the log's end
            note_outputs(run.spec.log_path, outputs, _now_ms())
        outcome, reason, failure = ended_as(status, run.interrupted)
        if outputs.capped:  # and on the task: its attempt's reason
            reason = f"{reason}; {outputs.cap_note()}"
        log_size = run.spec.log_path.stat().st_size
        report = AttemptReport(
            task_id=run.spec.task_id, epoch=run.spec.epoch, worker_id=self._worker_id,
            outcome=outcome, exit_code=status.exit_code, reason=reason,
            oom_killed=status.oom_killed, log_size=log_size, failure=failure,
        )  # fmt: skip
        finished = FinishedAttempt(
            report, log_tail(run.spec.log_path, log_size), tuple(f.rel_path for f in outputs.files),
            run.started_ms, _now_ms(),
        )  # fmt: skip
        spool.save_finished(run.spec.log_path.parent, finished)
        return finished

    async def _ship(self, run: AttemptRun, finished: FinishedAttempt) -> None:
        """Deliver, then forget the attempt and its record. Stopped first (the worker
        shuts down): the record stays for the next start."""
        outputs = await asyncio.to_thread(self._collect, run)
        directory = run.spec.log_path.parent
        await self._delivery.deliver(run.assignment, finished, outputs, directory)
        self._runs.pop(run.spec.key, None)
        await asyncio.to_thread(shutil.rmtree, directory, True)

    def _collect(self, run: AttemptRun) -> CollectedOutputs:
        """The attempt's /output within the caps: file count, and bytes (the smaller of
        the worker's cap and the task's storage request, when it makes one)."""
        limits = self.attempt_limits
        max_bytes = limits.max_output_bytes
        storage = run.assignment.request.storage_gb
        if storage > 0:
            max_bytes = min(max_bytes, int(storage * 1024**3))
        return collect_outputs(
            run.spec.output_dir, max_files=limits.max_output_files, max_total_bytes=max_bytes
        )

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
        if run.done.is_set():
            # It ended before this went out: its result tells the master it ran (the
            # start is recorded with it), one report and one write fewer a short task.
            return
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

    def stop_intake(self) -> None:
        """Refuse new attempts from now on."""
        self.draining = True

    async def drain(self, timeout_s: float) -> int:
        """Take no new attempts; wait (at most `timeout_s`) until every attempt has
        ended and its result reached the master. Returns how many are still listed."""
        self.stop_intake()
        tasks = [run.task for run in self._runs.values() if run.task]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        return sum(1 for run in self._runs.values() if run.task and not run.task.done())

    async def close(self, grace_s: float, mode: ShutdownMode = "stop") -> None:
        """Shutdown: stop every attempt as interrupted — in the `leave` mode only those
        not started yet, the others run on for the next start to adopt — give their
        results a bounded time to reach the master, and leave the rest spooled for the
        next start."""
        self.draining = True
        runs = list(self._runs.values())
        leave = mode == "leave" and self._executor.leaves_running
        if mode == "leave" and not leave:
            logger.warning("the %s executor leaves nothing running: stopping its tasks",
                           self._executor.name)  # fmt: skip
        left = [r for r in runs if leave and r.started and not r.done.is_set()]
        if left:
            await self._executor.leave()
            logger.info("leaving %d tasks running for the next start", len(left))
        for run in runs:
            run.interrupted = not run.done.is_set() and run not in left
        await asyncio.gather(
            *(self._executor.stop(*r.spec.key, grace_s) for r in runs if r.interrupted),
            *self._stopping,
        )
        tasks = [run.task for run in runs if run.task and run not in left]
        if tasks:
            await asyncio.wait(tasks, timeout=self._limits.stop_report_s)
        tasks += [run.task for run in left if run.task]
        for task in [*tasks, *self._reports]:
            task.cancel()
        await asyncio.gather(*tasks, *self._reports, return_exceptions=True)


def _now_ms() -> int:
    return int(time.time() * 1000)
