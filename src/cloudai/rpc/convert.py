"""Proto <-> domain conversion, both directions, and nowhere else."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from datetime import UTC, datetime

from cloudai._proto import cluster_pb2 as pb
from cloudai.domain.attempts import (
    PHASE_CREATING,
    PHASE_PULLING,
    Assignment,
    FilePiece,
    FinishedAttempt,
    HeldAttempt,
)
from cloudai.domain.errors import InvalidRequest
from cloudai.domain.resources import Resources
from cloudai.domain.task import AttemptReport, Task, TaskStatus, parse_failure
from cloudai.domain.workers import TaskUsage, Usage

# The reference protocol's TaskResult.status strings.
_OUTCOME_TO_WIRE = {
    TaskStatus.COMPLETED: "success",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}
_WIRE_TO_OUTCOME = {v: k for k, v in _OUTCOME_TO_WIRE.items()}

# GPU counts travel as double (the reference's type) but are whole on both sides; the
# bound keeps them inside the int32 they were and the store's INTEGER columns.
_MAX_GPUS = 2**31 - 1


def gpus_to_wire(count: int) -> float:
    return float(count)


def gpus_from_wire(value: float, field: str) -> int:
    """A whole GPU count from the wire; anything else is refused rather than rounded,
    since a misread count would over- or under-book a worker."""
    if not math.isfinite(value) or value < 0 or not value.is_integer() or value > _MAX_GPUS:
        raise InvalidRequest(f"{field} must be a whole number of GPUs (0 or more), got {value!r}")
    return int(value)


def task_to_proto(task: Task) -> pb.Task:
    command = task.command
    return pb.Task(
        task_id=task.task_id,
        docker_image=task.docker_image,
        command=command if isinstance(command, str) else "",
        command_argv=command if isinstance(command, list) else [],
        req_cpu=task.request.cpu,
        req_memory=task.request.memory_gb,
        req_storage=task.request.storage_gb,
        req_gpu=gpus_to_wire(task.request.gpu),
        target_worker_id=task.worker_id or "",
        user_id=task.user_id,
        sla_multiplier=task.k_value,
        task_type=task.task_type,
        task_name=task.name,
        submitted_at=int(task.created_at.timestamp()),
        epoch=task.epoch,
        env=dict(task.env),
        timeout_seconds=task.timeout_s or 0.0,
        priority=task.priority,
    )


def task_gpus_from_proto(message: pb.Task) -> int:
    return gpus_from_wire(message.req_gpu, "Task.req_gpu")


def command_from_proto(message: pb.Task) -> str | list[str] | None:
    if message.command_argv:
        return list(message.command_argv)
    return message.command or None


def resources_from_worker_info(info: pb.WorkerInfo) -> Resources:
    gpu = gpus_from_wire(info.total_gpu, "WorkerInfo.total_gpu")
    return Resources(info.total_cpu, info.total_memory, info.total_storage, gpu)


def usage_from_heartbeat(beat: pb.Heartbeat) -> Usage:
    tasks = tuple(
        TaskUsage(t.task_id, t.epoch, t.cpu_used, t.memory_used)
        for t in beat.running_tasks
        if t.has_usage
    )
    return Usage(beat.cpu_usage, beat.memory_usage, beat.storage_usage, beat.gpu_usage, tasks)


STARTING = "starting"
RUNNING = "running"
_PROGRESS_TEXT = {PHASE_PULLING: "pulling image", PHASE_CREATING: "creating container"}


def allocated_gpus_from_proto(item: pb.RunningTask) -> int:
    return gpus_from_wire(item.gpu_allocated, f"RunningTask.gpu_allocated of {item.task_id!r}")


def running_from_proto(items: list[pb.RunningTask]) -> list[tuple[str, int, bool]]:
    """(task_id, epoch, really started) of each listed attempt. Peers that predate the
    "starting" status (the reference's workers) say "running" for every attempt.
    The master does not use the GPU count, but a bad one marks a broken peer: refused."""
    for item in items:
        allocated_gpus_from_proto(item)
    return [(item.task_id, item.epoch, item.status != STARTING) for item in items]


def outcome_to_wire(outcome: TaskStatus) -> str:
    return _OUTCOME_TO_WIRE[outcome]


def report_from_proto(result: pb.TaskResult, worker_id: str) -> AttemptReport:
    outcome = _WIRE_TO_OUTCOME.get(result.status)
    if outcome is None:
        outcome = TaskStatus.FAILED
    return AttemptReport(
        task_id=result.task_id,
        epoch=result.epoch,
        worker_id=worker_id,
        outcome=outcome,
        exit_code=result.exit_code if result.has_exit_code else None,
        reason=result.reason,
        oom_killed=result.oom_killed,
        log_size=result.log_size,
        failure=parse_failure(result.failure),
        no_files=result.no_files,
    )


# --- the worker's side: assignments in; heartbeats, progress, results, files out


def assignment_from_proto(message: pb.Task) -> Assignment:
    request = Resources(
        message.req_cpu, message.req_memory, message.req_storage, task_gpus_from_proto(message)
    )
    return Assignment(
        task_id=message.task_id,
        epoch=message.epoch,
        image=message.docker_image,
        command=command_from_proto(message),
        request=request,
        user_id=message.user_id,
        task_name=message.task_name,
        submitted_at=message.submitted_at,
        env=dict(message.env),
        timeout_s=message.timeout_seconds or None,
    )


def held_to_proto(held: HeldAttempt) -> pb.RunningTask:
    return pb.RunningTask(
        task_id=held.task_id,
        epoch=held.epoch,
        status=RUNNING if held.started else STARTING,
        cpu_allocated=held.request.cpu,
        memory_allocated=held.request.memory_gb,
        gpu_allocated=gpus_to_wire(held.request.gpu),
        cpu_used=held.cpu_used or 0.0,
        memory_used=held.memory_used_gb or 0.0,
        has_usage=held.cpu_used is not None and held.memory_used_gb is not None,
    )


def worker_info_to_proto(
    worker_id: str, address: str, capacity: Resources, held: Iterable[HeldAttempt]
) -> pb.WorkerInfo:
    return pb.WorkerInfo(
        worker_id=worker_id,
        worker_ip=address,
        total_cpu=capacity.cpu,
        total_memory=capacity.memory_gb,
        total_storage=capacity.storage_gb,
        total_gpu=gpus_to_wire(capacity.gpu),
        running_tasks=[held_to_proto(h) for h in held],
    )


def heartbeat_to_proto(worker_id: str, usage: Usage, held: Iterable[HeldAttempt]) -> pb.Heartbeat:
    return pb.Heartbeat(
        worker_id=worker_id,
        cpu_usage=usage.cpu,
        memory_usage=usage.memory,
        storage_usage=usage.storage,
        gpu_usage=usage.gpu,
        running_tasks=[held_to_proto(h) for h in held],
    )


def cancels_from_ack(ack: pb.HeartbeatAck) -> list[tuple[str, int]]:
    return [(item.task_id, item.epoch) for item in ack.cancel]


def progress_to_proto(
    task_id: str, epoch: int, phase: str, at_ms: int, message: str = ""
) -> pb.TaskProgress:
    return pb.TaskProgress(task_id=task_id, epoch=epoch, phase=phase, at_ms=at_ms, message=message)


def progress_text(report: pb.TaskProgress) -> str | None:
    """What a start-up step report says, for the task's events; None when its phase is
    not one (e.g. "started", or a newer peer's phase)."""
    default = _PROGRESS_TEXT.get(report.phase)
    if default is None:
        return None
    return report.message or default


def finished_to_proto(finished: FinishedAttempt) -> pb.TaskResult:
    report = finished.report
    return pb.TaskResult(
        task_id=report.task_id,
        worker_id=report.worker_id,
        status=outcome_to_wire(report.outcome),
        logs=finished.log_tail,
        output_files=list(finished.output_files),
        epoch=report.epoch,
        exit_code=report.exit_code or 0,
        has_exit_code=report.exit_code is not None,
        reason=report.reason,
        oom_killed=report.oom_killed,
        started_at_ms=finished.started_at_ms,
        finished_at_ms=finished.finished_at_ms,
        log_size=report.log_size,
        failure=report.failure.value if report.failure else "",
        no_files=report.no_files,
    )


def piece_to_proto(piece: FilePiece) -> pb.FileChunk:
    return pb.FileChunk(
        task_id=piece.task_id,
        user_id=piece.user_id,
        task_name=piece.task_name,
        file_path=piece.path,
        data=piece.data,
        is_last_chunk=piece.last_chunk,
        is_last_file=piece.last_file,
        timestamp=piece.submitted_at,
        epoch=piece.epoch,
        sha256=piece.sha256,
        kind=piece.kind,
    )


# The key of FileChunk.data: its field number, wire type 2 (length-delimited).
_CHUNK_DATA_KEY_NUMBER = pb.FileChunk.DESCRIPTOR.fields_by_name["data"].number << 3 | 2


def piece_to_wire(piece: FilePiece) -> bytes:
    """`piece` as a serialised FileChunk with its data copied once (building a message
    and serialising it copies the data twice, the most of an upload's CPU): the other
    fields through protobuf, then `data` appended as a field of its own. Parsers take
    fields in any order, so the master reads the same FileChunk as piece_to_proto's."""
    head = piece_to_proto(dataclasses.replace(piece, data=b"")).SerializeToString()
    key, length = _varint(_CHUNK_DATA_KEY_NUMBER), _varint(len(piece.data))
    return b"".join((head, key, length, piece.data))


def _varint(value: int) -> bytes:
    """Protobuf's base-128 varint of a non-negative int."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def log_piece_to_proto(
    task_id: str, offset: int, data: bytes, stream: str | None = None, at_ms: int | None = None
) -> pb.LogChunk:
    """Bytes of one stream (`stream` None: unknown) read at `at_ms`; the reference's
    `timestamp` carries that time too, as RFC 3339."""
    content = data.decode("utf-8", errors="replace")
    stamp = _rfc3339(at_ms) if at_ms else ""
    return pb.LogChunk(
        task_id=task_id, content=content, data=data, offset=offset, stream=stream or "",
        at_ms=at_ms or 0, timestamp=stamp,
    )  # fmt: skip


def log_piece_tags(chunk: pb.LogChunk) -> tuple[str | None, int | None]:
    """(stream, at_ms) of a log chunk; None for what a peer did not say."""
    return (chunk.stream or None, chunk.at_ms or None)


def _rfc3339(at_ms: int) -> str:
    moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log_end_to_proto(task_id: str, offset: int, state: str, exit_code: int) -> pb.LogChunk:
    return pb.LogChunk(
        task_id=task_id, is_complete=True, status=state, offset=offset, exit_code=exit_code
    )
