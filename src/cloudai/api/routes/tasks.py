from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from pydantic_core import to_json

from cloudai.api.cursors import decode_cursor, encode_cursor
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
    statuses_for,
    task_fields,
)
from cloudai.domain.errors import InvalidRequest
from cloudai.domain.task import Task, TaskStatus
from cloudai.master.core import Services
from cloudai.master.tasks import TaskFilter

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


@router.get("", response_model=TaskListOut)
async def list_tasks(
    user: CurrentUser,
    services: ServicesDep,
    status: Annotated[
        str | None, Query(description="One status, or several, comma-separated.")
    ] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    worker_id: Annotated[str | None, Query(max_length=200)] = None,
    user_id: Annotated[str | None, Query(max_length=64, description="Admins: this user's.")] = None,
    since: Annotated[datetime | None, Query(description="Created at or after (ISO 8601).")] = None,
    id_prefix: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Ids that start with it.")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1, max_length=200, description="Id, name or image contains it (any case)."
        ),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of a page.")
    ] = None,
    limit: PageSize = 100,
    offset: Offset = 0,
) -> Response:
    """Tasks newest first (yours; an admin's: everyone's), filtered. A full page carries
    `next_cursor`: pass it back as `cursor` for the next (stable under new submits)."""
    wanted = TaskFilter(
        statuses=_statuses(status), tag=tag, worker_id=worker_id, owner=user_id,
        since=since, after=decode_cursor(cursor), limit=limit, offset=offset,
        id_prefix=id_prefix, search=q,
    )  # fmt: skip
    tasks = await services.tasks.list_tasks(user, wanted)
    next_cursor = encode_cursor(tasks[-1]) if len(tasks) == limit else None
    page = {
        "tasks": [_fields(services, t) for t in tasks], "limit": limit, "offset": offset,
        "next_cursor": next_cursor,
    }  # fmt: skip
    return Response(to_json(page), media_type="application/json")  # TaskListOut's JSON


def _statuses(raw: str | None) -> tuple[TaskStatus, ...] | None:
    if not raw:
        return None
    words = [w.strip() for w in raw.split(",") if w.strip()]
    try:
        # The seed's `pending` means queued or assigned; duplicates collapse.
        return tuple(dict.fromkeys(s for w in words for s in statuses_for(w)))
    except ValueError:
        known = ", ".join([s.value for s in TaskStatus] + ["pending"])
        raise InvalidRequest(f"unknown status in {raw!r}; known: {known}") from None


def _out(services: Services, task: Task) -> TaskOut:
    return TaskOut(**_fields(services, task))


def _fields(services: Services, task: Task) -> dict[str, Any]:
    dispatcher = services.dispatcher
    if task.status is not TaskStatus.QUEUED:
        return task_fields(task)
    return task_fields(
        task, dispatcher.pending_reason(task.task_id), dispatcher.queue_position(task.task_id)
    )


async def _detail(services: Services, task: Task) -> TaskDetailOut:
    events, attempts = await services.tasks.history(task)
    base = _out(services, task)
    used = services.cluster.task_usage(task) if task.status.holds_resources else None
    return TaskDetailOut(
        **base.model_dump(),
        events=[EventOut.of(e) for e in events],
        attempts=[AttemptOut.of(a) for a in attempts],
        usage=None if used is None else {"cpu": used.cpu, "memory_gb": used.memory_gb},
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


class DeletedOut(BaseModel):
    task_id: str
    deleted: bool = True


@router.delete("/{task_id}")
async def cancel_task(
    task_id: str,
    user: CurrentUser,
    services: ServicesDep,
    purge: Annotated[
        bool, Query(description="Delete the finished task with its logs and outputs.")
    ] = False,
) -> CancelOut | DeletedOut:
    """Cancel the task; with `purge=true`, delete a finished one instead (409 while
    it is not finished), its logs and outputs with it."""
    if purge:
        deleted = await services.admin.purge.purge(user, task_id)
        return DeletedOut(task_id=deleted.task_id)
    task = await services.tasks.cancel(user, task_id)
    return CancelOut(task_id=task.task_id, status=task.status, message="task cancelled")


@router.get("/{task_id}/logs")
async def task_logs(
    task_id: str,
    user: CurrentUser,
    services: ServicesDep,
    offset: Offset = 0,
    limit: LogReadSize = MAX_LOG_READ,
    attempt: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="Whose log; default: the current.")
    ] = None,
) -> LogsOut:
    piece = await services.logs.read(user, task_id, offset, limit, attempt)
    return LogsOut(
        task_id=task_id,
        status=piece.task.status,
        logs=piece.data.decode("utf-8", errors="replace"),
        offset=piece.offset,
        next_offset=piece.next_offset,
        complete=piece.complete,
        attempt=piece.attempt,
    )
