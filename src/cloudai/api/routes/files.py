from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from cloudai.api.cursors import decode_cursor, encode_cursor
from cloudai.api.deps import CurrentUser, ServicesDep
from cloudai.api.limits import PageSize
from cloudai.api.schemas import FileOut, FilesOut, StoredListOut, StoredOut
from cloudai.master.tasks import TaskFilter

router = APIRouter(prefix="/api/files", tags=["files"])


@router.get("")
async def list_stored(
    user: CurrentUser,
    services: ServicesDep,
    user_id: Annotated[str | None, Query(max_length=64, description="Admins: this user's.")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: PageSize = 100,
) -> StoredListOut:
    """Your tasks that have stored outputs, newest first (admins: a named user's, or
    everyone's). A full page carries `next_cursor`."""
    wanted = TaskFilter(owner=user_id, after=decode_cursor(cursor), limit=limit)
    stored = await services.outputs.tasks_with_files(user, wanted)
    next_cursor = encode_cursor(stored[-1].task) if len(stored) == limit else None
    return StoredListOut(tasks=[StoredOut.of(s) for s in stored], next_cursor=next_cursor)


@router.delete("/{task_id}")
async def delete_stored(task_id: str, user: CurrentUser, services: ServicesDep) -> StoredOut:
    """Remove a finished task's outputs (the task and its log stay)."""
    return StoredOut.of(await services.outputs.delete(user, task_id))


@router.get("/{task_id}")
async def list_files(task_id: str, user: CurrentUser, services: ServicesDep) -> FilesOut:
    files = await services.tasks.files(user, task_id)
    return FilesOut(
        task_id=task_id,
        files=[FileOut.of(f) for f in files],
        total_size=sum(f.size for f in files),
    )


@router.get("/{task_id}/download/{path:path}")
async def download(
    task_id: str, path: str, user: CurrentUser, services: ServicesDep
) -> FileResponse:
    task, _ = await services.tasks.output_file(user, task_id, path)
    disk_path = services.files.output_path(task.user_id, task.task_id, path)
    return FileResponse(
        disk_path,
        media_type="application/octet-stream",
        filename=path.rsplit("/", 1)[-1],
    )
