"""Proto <-> domain conversion, both directions, and nowhere else."""

from __future__ import annotations

import math

from cloudai._proto import cluster_pb2 as pb
from cloudai.domain.errors import InvalidRequest
from cloudai.domain.resources import Resources
from cloudai.domain.task import AttemptReport, Failure, Task, TaskStatus
from cloudai.domain.workers import Usage

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
    return Usage(beat.cpu_usage, beat.memory_usage, beat.storage_usage, beat.gpu_usage)


STARTING = "starting"
RUNNING = "running"
PHASE_STARTED = "started"


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
        failure=_failure(result.failure),
    )


def _failure(wire: str) -> Failure | None:
    try:
        return Failure(wire) if wire else None
    except ValueError:  # a newer peer's kind: let the master classify it
        return None
