"""Deleting finished tasks' data: a user's (or an admin's) purge of one task, and the
retention sweep that removes logs and outputs of tasks finished longer ago than the
configured retention (`CLOUDAI_RETENTION`; the task rows stay, so history and SLA
figures survive). What to delete is decided by `expired`, a pure function of now."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from cloudai.domain.errors import Conflict
from cloudai.domain.task import Task
from cloudai.domain.users import User
from cloudai.master.files import FileArea
from cloudai.master.tasks import TaskService
from cloudai.ports import Clock, Store

logger = logging.getLogger(__name__)

PAGE = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def expired(tasks: Iterable[Task], now: datetime, keep_s: float) -> list[Task]:
    """The finished tasks among `tasks` whose data is past retention at `now`."""
    cutoff = now - timedelta(seconds=keep_s)
    return [
        t
        for t in tasks
        if t.status.is_terminal and t.finished_at is not None and t.finished_at <= cutoff
    ]


async def remove_data(area: FileArea, task: Task) -> None:
    """Remove the task's outputs and every attempt's log from the disk."""
    outputs = area.task_dir(task.user_id, task.task_id)
    logs = area.log_path(task.task_id, 0).parent
    for directory in (outputs, logs):
        await asyncio.to_thread(shutil.rmtree, directory, True)


class TaskPurge:
    def __init__(self, store: Store, tasks: TaskService, area: FileArea) -> None:
        self._store = store
        self._tasks = tasks
        self._area = area

    async def purge(self, user: User, task_id: str) -> Task:
        """Delete a finished task (the owner's or, for an admin, anyone's): its rows,
        its logs and its outputs. Another user's task is NotFound; a live one Conflict."""
        task = await self._tasks.get(user, task_id)
        if not task.status.is_terminal:
            raise Conflict(f"task {task_id} is {task.status}: cancel it first, then delete it")
        await self._store.delete_task(task_id)
        await remove_data(self._area, task)
        logger.info("task deleted", extra={"task_id": task_id, "user_id": user.user_id})
        return task


class RetentionSweep:
    """Removes logs and outputs past retention, oldest first. It remembers how far it
    got (by finish time), so each pass reads only tasks not yet swept; after a master
    restart the first pass walks them once more (removal is idempotent)."""

    def __init__(self, store: Store, clock: Clock, area: FileArea, keep_s: float | None) -> None:
        self._store = store
        self._clock = clock
        self._area = area
        self.keep_s = keep_s  # None: keep forever
        self.swept_until: tuple[datetime, str] | None = None

    async def sweep_once(self) -> int:
        """One pass; how many tasks' data went."""
        if self.keep_s is None:
            return 0
        now = self._clock.now()
        removed = 0
        while True:
            page = await self._store.list_finished(_EPOCH, after=self.swept_until, limit=PAGE)
            old = expired(page, now, self.keep_s)
            for task in old:
                await self._store.replace_files(task.task_id, [])
                await remove_data(self._area, task)
            removed += len(old)
            if old:
                last = old[-1]
                assert last.finished_at is not None  # expired() keeps finished ones only
                self.swept_until = (last.finished_at, last.task_id)
            if len(old) < len(page) or len(page) < PAGE:
                break
        if removed:
            logger.info("retention removed the logs and outputs of %d tasks", removed)
        return removed
