from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from cloudai.api.deps import CurrentUser, ServicesDep
from cloudai.api.schemas import FileOut, FilesOut
from cloudai.domain.errors import NotFound

router = APIRouter(prefix="/api/files", tags=["files"])


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
    task = await services.tasks.get(user, task_id)
    # Only paths recorded at upload are served: the metadata, not the disk, is trusted.
    known = {f.path: f for f in await services.tasks.files(user, task_id)}
    if path not in known:
        raise NotFound(f"no file {path!r} in task {task_id}")
    disk_path = services.files.output_path(task.user_id, task.task_id, path)
    return FileResponse(
        disk_path,
        media_type="application/octet-stream",
        filename=path.rsplit("/", 1)[-1],
    )
