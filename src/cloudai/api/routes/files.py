from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from cloudai.api.deps import CurrentUser, ServicesDep
from cloudai.api.schemas import FileOut, FilesOut

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
    task, _ = await services.tasks.output_file(user, task_id, path)
    disk_path = services.files.output_path(task.user_id, task.task_id, path)
    return FileResponse(
        disk_path,
        media_type="application/octet-stream",
        filename=path.rsplit("/", 1)[-1],
    )
