"""A user's stored outputs across tasks: which tasks have files, and deleting them.

Ownership as everywhere: another user's task does not exist for you; admins may name
a user. Only a finished task's files may be deleted (a running one still uploads)."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass

from cloudai.domain.errors import Conflict
from cloudai.domain.task import Task
from cloudai.domain.users import User
from cloudai.master.files import FileArea
from cloudai.master.tasks import TaskFilter, TaskService
from cloudai.ports import Store


@dataclass(frozen=True, slots=True)
class StoredOutputs:
    task: Task
    files: int
    total_size: int


class OutputService:
    def __init__(self, store: Store, tasks: TaskService, area: FileArea) -> None:
        self._store = store
        self._tasks = tasks
        self._area = area

    async def tasks_with_files(self, user: User, wanted: TaskFilter) -> list[StoredOutputs]:
        """Tasks with stored outputs, newest first (paged like the task list)."""
        tasks = await self._tasks.list_tasks(user, wanted, with_files=True)
        totals = await self._store.file_totals([t.task_id for t in tasks])
        return [StoredOutputs(t, *totals.get(t.task_id, (0, 0))) for t in tasks]

    async def delete(self, user: User, task_id: str) -> StoredOutputs:
        """Forget and remove a finished task's outputs; returns what was removed."""
        task = await self._tasks.get(user, task_id)
        if not task.status.is_terminal:
            raise Conflict(f"task {task_id} is {task.status}: its outputs may still arrive")
        count, size = (await self._store.file_totals([task_id])).get(task_id, (0, 0))
        await self._store.replace_files(task_id, [])
        directory = self._area.task_dir(task.user_id, task.task_id)
        await asyncio.to_thread(shutil.rmtree, directory, True)
        return StoredOutputs(task, count, size)
