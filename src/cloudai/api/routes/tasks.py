from __future__ import annotations

from fastapi import APIRouter

from cloudai.api.deps import CurrentUser, ServicesDep
from cloudai.api.limits import MAX_LOG_READ, LogReadSize, Offset, PageSize, WaitSeconds
from cloudai.api.schemas import (
    AttemptOut,
    CancelOut,
    EventOut,
    LogsOut,
    SubmitOut,
    TaskDetailOut,
    TaskIn,
    TaskListOut,
    TaskOut,
)
from cloudai.domain.errors import InvalidRequest
from cloudai.domain.task import Task, TaskStatus
from cloudai.master.core import Services

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


@router.post("", status_code=201)
async def submit(body: TaskIn, user: CurrentUser, services: ServicesDep) -> SubmitOut:
    submitted = await services.tasks.submit(user, body.to_spec())
    task = submitted.task
    return SubmitOut(
        task_id=task.task_id,
        status=task.status,
        message="task queued",
        task_type=task.task_type,
        deadline=task.deadline,
        warning="; ".join(submitted.warnings) or None,
    )


@router.get("")
async def list_tasks(
    user: CurrentUser,
    services: ServicesDep,
    status: TaskStatus | None = None,
    limit: PageSize = 100,
    offset: Offset = 0,
) -> TaskListOut:
    tasks = await services.tasks.list_tasks(user, status, limit, offset)
    return TaskListOut(tasks=[_out(services, t) for t in tasks], limit=limit, offset=offset)


def _out(services: Services, task: Task) -> TaskOut:
    dispatcher = services.dispatcher
    if task.status is not TaskStatus.QUEUED:
        return TaskOut.of(task)
    return TaskOut.of(
        task, dispatcher.pending_reason(task.task_id), dispatcher.queue_position(task.task_id)
    )


async def _detail(services: Services, task: Task) -> TaskDetailOut:
    events, attempts = await services.tasks.history(task)
    base = _out(services, task)
    return TaskDetailOut(
        **base.model_dump(),
        events=[EventOut.of(e) for e in events],
        attempts=[AttemptOut.of(a) for a in attempts],
    )


@router.get("/{task_id}")
async def get_task(task_id: str, user: CurrentUser, services: ServicesDep) -> TaskDetailOut:
    return await _detail(services, await services.tasks.get(user, task_id))


@router.get("/{task_id}/wait")
async def wait_task(
    task_id: str,
    user: CurrentUser,
    services: ServicesDep,
    until: str = "completed,failed,cancelled",
    timeout: WaitSeconds = 30.0,  # noqa: ASYNC109 - a query param
) -> TaskDetailOut:
    """Block until the task is in one of `until` (comma-separated) or `timeout` seconds
    pass; answers the task as it then is. Callers check `status`."""
    try:
        wanted = {TaskStatus(s.strip()) for s in until.split(",") if s.strip()}
    except ValueError as exc:
        raise InvalidRequest(f"unknown status in until={until!r}") from exc
    task = await services.tasks.wait(user, task_id, wanted, timeout)
    return await _detail(services, task)


@router.delete("/{task_id}")
async def cancel_task(task_id: str, user: CurrentUser, services: ServicesDep) -> CancelOut:
    task = await services.tasks.cancel(user, task_id)
    return CancelOut(task_id=task.task_id, status=task.status, message="task cancelled")


@router.get("/{task_id}/logs")
async def task_logs(
    task_id: str,
    user: CurrentUser,
    services: ServicesDep,
    offset: Offset = 0,
    limit: LogReadSize = MAX_LOG_READ,
) -> LogsOut:
    piece = await services.logs.read(user, task_id, offset, limit)
    return LogsOut(
        task_id=task_id,
        status=piece.task.status,
        logs=piece.data.decode("utf-8", errors="replace"),
        offset=piece.offset,
        next_offset=piece.next_offset,
        complete=piece.complete,
    )
