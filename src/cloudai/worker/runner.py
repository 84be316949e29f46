"""The runner owns this worker's attempts: accept, execute, ship, report, forget.

An attempt stays listed (and so in every heartbeat) until the master has
acknowledged its completion report; deliveries are retried with backoff, and the
master treats repeats as no-ops.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from cloudai._proto import cluster_pb2 as pb
from cloudai.domain.errors import CloudAIError, Conflict, InvalidRequest, Unavailable
from cloudai.domain.task import Failure, TaskStatus
from cloudai.rpc import convert
from cloudai.worker.executors.base import ExecutionSpec, Executor, ExitStatus
from cloudai.worker.master_link import MasterLink
from cloudai.worker.outputs import CHUNK_SIZE, CollectedOutputs, collect_outputs, read_at

logger = logging.getLogger(__name__)

LOG_FILE_NAME = "task.log"
_LOG_TAIL = 64 * 1024
_RETRY_MAX_S = 5.0
_START_REPORT_TRIES = 5  # then the next heartbeat, which says "running", settles it


@dataclass(slots=True)
class AttemptRun:
    spec: ExecutionSpec
    user_id: str
    task_name: str
    submitted_at: int
    started_ms: int
    started: bool = False  # the container (or process) really runs
    done: asyncio.Event = field(default_factory=asyncio.Event)
    status: ExitStatus | None = None
    task: asyncio.Task[None] | None = None


def spec_from_task(message: pb.Task, attempt_dir: Path) -> ExecutionSpec:
    return ExecutionSpec(
        task_id=message.task_id,
        epoch=message.epoch,
        image=message.docker_image,
        command=convert.command_from_proto(message),
        cpu=message.req_cpu,
        memory_gb=message.req_memory,
        gpu=convert.task_gpus_from_proto(message),
        output_dir=attempt_dir / "output",
        log_path=attempt_dir / LOG_FILE_NAME,
        env=dict(message.env),
    )


class Runner:
    def __init__(
        self, worker_id: str, executor: Executor, link: MasterLink, data_dir: Path
    ) -> None:
        self._worker_id = worker_id
        self._executor = executor
        self._link = link
        self._attempts_dir = data_dir / "attempts"
        self._runs: dict[tuple[str, int], AttemptRun] = {}
        self._stopping: set[asyncio.Task[bool]] = set()
        self._reports: set[asyncio.Task[None]] = set()

    def listed(self) -> list[tuple[str, int]]:
        return list(self._runs)

    def running_tasks(self) -> list[pb.RunningTask]:
        """Every listed attempt as heartbeats carry it: "running" once it really started."""
        return [
            pb.RunningTask(
                task_id=task_id,
                epoch=epoch,
                status=convert.RUNNING if run.started else convert.STARTING,
                cpu_allocated=run.spec.cpu,
                memory_allocated=run.spec.memory_gb,
                gpu_allocated=convert.gpus_to_wire(run.spec.gpu),
            )
            for (task_id, epoch), run in self._runs.items()
        ]

    def find(self, task_id: str, epoch: int) -> AttemptRun | None:
        if epoch:
            return self._runs.get((task_id, epoch))
        matches = [run for key, run in self._runs.items() if key[0] == task_id]
        return max(matches, key=lambda r: r.spec.epoch) if matches else None

    def accept(self, message: pb.Task) -> None:
        """Start an attempt; accepting the same attempt twice is a no-op."""
        if not message.task_id or message.epoch <= 0:
            raise Conflict("task_id and a positive epoch are required")
        key = (message.task_id, message.epoch)
        if key in self._runs:
            return
        attempt_dir = self._attempts_dir / f"{message.task_id}-{message.epoch}"
        spec = spec_from_task(message, attempt_dir)
        spec.output_dir.mkdir(parents=True, exist_ok=True)
        spec.log_path.touch()
        run = AttemptRun(spec, message.user_id, message.task_name, message.submitted_at, _now_ms())
        self._runs[key] = run
        run.task = asyncio.create_task(self._drive(run), name=f"attempt-{key}")

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

    async def _drive(self, run: AttemptRun) -> None:
        try:
            run.status = await self._executor.run(run.spec, lambda: self._started(run))
        except Exception as exc:  # an executor bug still ends the attempt, and is reported
            logger.exception("executor failed", extra={"task_id": run.spec.task_id})
            run.status = ExitStatus(exit_code=None, error=f"executor failed: {exc}")
        run.done.set()
        outputs = await asyncio.to_thread(collect_outputs, run.spec.output_dir)
        if outputs.skipped:  # say so where the user looks: at the end of the task's log
            await asyncio.to_thread(_note_skipped, run.spec.log_path, outputs.skipped)
        result = await asyncio.to_thread(self._result, run, run.status, outputs)
        delivered = await self._deliver(run, outputs, result)
        self._runs.pop(run.spec.key, None)
        if delivered:
            await asyncio.to_thread(shutil.rmtree, run.spec.log_path.parent, True)

    def _started(self, run: AttemptRun) -> None:
        """Tell the master at once (in the background); heartbeats repeat it anyway."""
        run.started = True
        report = asyncio.create_task(self._report_started(run), name=f"started-{run.spec.key}")
        self._reports.add(report)
        report.add_done_callback(self._reports.discard)

    async def _report_started(self, run: AttemptRun) -> None:
        progress = pb.TaskProgress(
            task_id=run.spec.task_id,
            epoch=run.spec.epoch,
            phase=convert.PHASE_STARTED,
            at_ms=_now_ms(),
        )
        delay = 0.2
        for _ in range(_START_REPORT_TRIES):
            try:
                await self._link.progress(progress)
                return
            except Unavailable as exc:
                logger.warning("start report not delivered, will retry: %s", exc)
            except CloudAIError as exc:  # superseded or unknown: the heartbeat settles it
                logger.info("start report refused: %s", exc)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)

    def _result(
        self, run: AttemptRun, status: ExitStatus, outputs: CollectedOutputs
    ) -> pb.TaskResult:
        outcome, reason, failure = _outcome(status)
        log_size = run.spec.log_path.stat().st_size
        return pb.TaskResult(
            task_id=run.spec.task_id,
            worker_id=self._worker_id,
            status=convert.outcome_to_wire(outcome),
            logs=_tail(run.spec.log_path, log_size),
            output_files=[f.rel_path for f in outputs.files],
            epoch=run.spec.epoch,
            exit_code=status.exit_code or 0,
            has_exit_code=status.exit_code is not None,
            reason=reason,
            oom_killed=status.oom_killed,
            started_at_ms=run.started_ms,
            finished_at_ms=_now_ms(),
            log_size=log_size,
            failure=failure,
        )

    async def _deliver(
        self, run: AttemptRun, outputs: CollectedOutputs, result: pb.TaskResult
    ) -> bool:
        """Upload the log and outputs, then report; retry while the master is unreachable."""
        uploaded = False
        delay = 0.2
        while True:
            try:
                if not uploaded:
                    await self._upload(run, outputs, result)
                    uploaded = True
                await self._link.report(result)
                return True
            except Unavailable as exc:
                logger.warning("master unreachable, will retry: %s", exc)
            except CloudAIError as exc:
                # The master no longer wants this attempt (superseded, unknown): drop it.
                logger.warning("attempt delivery refused: %s", exc)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)

    async def _upload(
        self, run: AttemptRun, outputs: CollectedOutputs, result: pb.TaskResult
    ) -> None:
        try:
            await self._link.upload(self._chunks(run, outputs))
        except InvalidRequest as exc:
            # The files cannot be stored (too large, corrupt): the outcome still counts,
            # and reporting it keeps the task from being run again and again.
            result.reason = f"{result.reason}; output files not stored: {exc}"

    async def _chunks(
        self, run: AttemptRun, outputs: CollectedOutputs
    ) -> AsyncIterator[pb.FileChunk]:
        items = [(LOG_FILE_NAME, run.spec.log_path, "log", "")]
        items += [(f.rel_path, f.path, "output", f.sha256) for f in outputs.files]
        for index, (rel, path, kind, sha256) in enumerate(items):
            async for last, data in _read_chunks(path):
                yield pb.FileChunk(
                    task_id=run.spec.task_id,
                    user_id=run.user_id,
                    task_name=run.task_name,
                    file_path=rel,
                    data=data,
                    is_last_chunk=last,
                    is_last_file=last and index == len(items) - 1,
                    timestamp=run.submitted_at,
                    epoch=run.spec.epoch,
                    sha256=sha256 if last else "",
                    kind=kind,
                )

    async def close(self, grace_s: float) -> None:
        """Stop every attempt (shutdown): containers do not outlive their worker. The
        master learns of them when this worker joins again, or declares them lost."""
        runs = list(self._runs.values())
        await asyncio.gather(
            *(self._executor.stop(r.spec.task_id, r.spec.epoch, grace_s) for r in runs),
            *self._stopping,
        )
        tasks = [run.task for run in self._runs.values() if run.task]
        tasks += list(self._reports)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _outcome(status: ExitStatus) -> tuple[TaskStatus, str, str]:
    """The outcome, its reason and the failure kind that decides a retry."""
    if status.cancelled:
        return TaskStatus.CANCELLED, "cancelled", Failure.CANCELLED.value
    if status.succeeded:
        return TaskStatus.COMPLETED, "exit code 0", ""
    if status.error:
        return TaskStatus.FAILED, status.error, status.failure or Failure.EXECUTOR.value
    if status.oom_killed:
        return TaskStatus.FAILED, "out of memory", Failure.OOM.value
    return TaskStatus.FAILED, f"exit code {status.exit_code}", Failure.EXIT.value


async def _read_chunks(path: Path) -> AsyncIterator[tuple[bool, bytes]]:
    """(is_last, data) pairs read one chunk at a time; an empty file is one empty chunk.
    The size is fixed when reading starts: the attempt has exited, nothing writes. No
    file stays open across a yield: an abandoned stream must not leak a descriptor."""
    size = (await asyncio.to_thread(path.stat)).st_size
    sent = 0
    while True:
        data = await asyncio.to_thread(read_at, path, sent, CHUNK_SIZE)
        sent += len(data)
        last = sent >= size or not data
        yield last, data
        if last:
            return


def _note_skipped(log_path: Path, skipped: list[str]) -> None:
    with log_path.open("a", encoding="utf-8") as log:
        for entry in skipped:
            log.write(f"[cloudai] not collected from /output: {entry}\n")


def _tail(path: Path, size: int) -> str:
    with path.open("rb") as handle:
        handle.seek(max(size - _LOG_TAIL, 0))
        return handle.read().decode("utf-8", errors="replace")


def _now_ms() -> int:
    return int(time.time() * 1000)
