"""The agent protocol on the wire: its token header, and proto <-> scheduling values
(`Snapshot` out and back, `Placement`s in, the applier's answers out), nowhere else.

A snapshot sent and rebuilt is the snapshot the master's own policies see, except the
round-robin cursor, which stays each planner's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from cloudai._proto import agent_pb2 as pb
from cloudai.domain.resources import Resources
from cloudai.scheduling.snapshot import (
    Placement,
    QueuedTaskView,
    RunningView,
    Snapshot,
    WorkerView,
)

AGENT_TOKEN_HEADER = "x-cloudai-agent-token"


# --- master -> agent: the cluster state


def cluster_state_to_proto(
    snapshot: Snapshot, statuses: Mapping[str, str] | None = None
) -> pb.ClusterState:
    """`statuses`: each worker's state in words (active, suspect, draining, cordoned)."""
    statuses = statuses or {}
    state = pb.ClusterState(
        workers=[_worker_to_proto(w, statuses.get(w.worker_id)) for w in snapshot.workers],
        pending_tasks=[_queued_to_proto(t) for t in snapshot.queue],
        now=snapshot.now,
        running_tasks=[_running_to_proto(r) for r in snapshot.running],
        user_usage=dict(snapshot.usage),
        tau=dict(snapshot.tau),
    )
    if snapshot.max_running_per_user is not None:
        state.max_running_per_user = snapshot.max_running_per_user
    return state


def _worker_to_proto(worker: WorkerView, status: str | None) -> pb.AgentWorkerInfo:
    free, total = worker.free, worker.total
    return pb.AgentWorkerInfo(
        worker_id=worker.worker_id,
        cpu_available=free.cpu,
        memory_available=free.memory_gb,
        storage_available=free.storage_gb,
        gpu_available=free.gpu,
        total_cpu=total.cpu,
        total_memory=total.memory_gb,
        total_storage=total.storage_gb,
        total_gpu=total.gpu,
        status=status or ("active" if worker.schedulable else "unschedulable"),
        schedulable=worker.schedulable,
        cpu_load=worker.cpu_load,
        memory_load=worker.memory_load,
        gpu_load=worker.gpu_load,
    )


def _queued_to_proto(task: QueuedTaskView) -> pb.TaskInfo:
    request = task.request
    return pb.TaskInfo(
        task_id=task.task_id,
        req_cpu=request.cpu,
        req_memory=request.memory_gb,
        req_storage=request.storage_gb,
        req_gpu=request.gpu,
        task_type=task.task_type,
        user_id=task.user_id,
        priority=task.priority,
        submitted_at=task.submitted_at,
        k_value=task.k_value,
        target_worker_id=task.target_worker_id or "",
    )


def _running_to_proto(run: RunningView) -> pb.RunningTaskInfo:
    request = run.request
    return pb.RunningTaskInfo(
        task_id=run.task_id,
        worker_id=run.worker_id,
        user_id=run.user_id,
        req_cpu=request.cpu,
        req_memory=request.memory_gb,
        req_storage=request.storage_gb,
        req_gpu=request.gpu,
        started_at=run.started_at,
        task_type=run.task_type,
    )


# --- agent side: the state back into a snapshot


def snapshot_from_proto(state: pb.ClusterState, *, cursor: int = 0) -> Snapshot:
    """The snapshot an agent plans against; `cursor`: its own round-robin position."""
    return Snapshot(
        now=state.now,
        workers=tuple(_worker_from_proto(w) for w in state.workers),
        queue=tuple(_queued_from_proto(t) for t in state.pending_tasks),
        running=tuple(_running_from_proto(r) for r in state.running_tasks),
        usage=dict(state.user_usage),
        tau=dict(state.tau),
        cursor=cursor,
        max_running_per_user=(
            state.max_running_per_user if state.HasField("max_running_per_user") else None
        ),
    )


def _resources(cpu: float, memory: float, storage: float, gpu: float) -> Resources:
    return Resources(cpu, memory, storage, round(gpu))  # GPUs are whole on the master


def _worker_from_proto(info: pb.AgentWorkerInfo) -> WorkerView:
    return WorkerView(
        worker_id=info.worker_id,
        total=_resources(info.total_cpu, info.total_memory, info.total_storage, info.total_gpu),
        free=_resources(
            info.cpu_available, info.memory_available, info.storage_available, info.gpu_available
        ),
        schedulable=info.schedulable,
        cpu_load=info.cpu_load,
        memory_load=info.memory_load,
        gpu_load=info.gpu_load,
    )


def _queued_from_proto(info: pb.TaskInfo) -> QueuedTaskView:
    return QueuedTaskView(
        task_id=info.task_id,
        user_id=info.user_id,
        request=_resources(info.req_cpu, info.req_memory, info.req_storage, info.req_gpu),
        submitted_at=info.submitted_at,
        priority=info.priority,
        task_type=info.task_type,
        k_value=info.k_value,
        target_worker_id=info.target_worker_id or None,
    )


def _running_from_proto(info: pb.RunningTaskInfo) -> RunningView:
    return RunningView(
        task_id=info.task_id,
        worker_id=info.worker_id,
        user_id=info.user_id,
        request=_resources(info.req_cpu, info.req_memory, info.req_storage, info.req_gpu),
        started_at=info.started_at,
        task_type=info.task_type,
    )


# --- placements, both ways, and the master's answers


def assignments_to_proto(placements: Iterable[Placement]) -> pb.TaskAssignments:
    return pb.TaskAssignments(
        assignments=[pb.Assignment(task_id=p.task_id, worker_id=p.worker_id) for p in placements]
    )


def placements_from_proto(request: pb.TaskAssignments) -> list[Placement]:
    return [Placement(a.task_id, a.worker_id) for a in request.assignments]


def ack_to_proto(results: Sequence[tuple[Placement, bool, str]]) -> pb.AgentAck:
    """One result per assignment (placement, accepted, why refused), in order."""
    refused = sum(1 for _, accepted, _ in results if not accepted)
    if not results:
        message = "no assignments"
    elif refused:
        message = f"{len(results) - refused} of {len(results)} accepted, {refused} refused"
    else:
        message = f"all {len(results)} accepted"
    return pb.AgentAck(
        success=refused == 0,
        message=message,
        results=[
            pb.AssignmentResult(
                task_id=p.task_id, worker_id=p.worker_id, accepted=accepted, reason=reason
            )
            for p, accepted, reason in results
        ],
    )
