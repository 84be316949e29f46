"""Changes of one task on one master are written one at a time: a completion that
arrives while its start report is being written decides on the start, rather than
losing the compare-and-set to it and reading the store again."""

from __future__ import annotations

import asyncio
from typing import Any

from cloudai.domain import lifecycle as rules
from cloudai.domain.lifecycle import Transition
from cloudai.domain.task import Attempt, Task, TaskStatus
from cloudai.master.bus import EventBus
from cloudai.master.lifecycle import Lifecycle
from cloudai.master.task_index import TaskIndex
from cloudai.master.transitions import TaskWriter
from tests.unit.master.test_lifecycle_files import Master, RecordingStore, done


class SlowStore(RecordingStore):
    """Counts reads of a task's current row; each save says it began (`saving`), then
    waits for `release`."""

    def __init__(self) -> None:
        super().__init__()
        self.current_reads = 0
        self.saving = asyncio.Event()
        self.release = asyncio.Event()

    async def get_current(self, task_id: str) -> tuple[Task, Attempt | None] | None:
        self.current_reads += 1
        return await super().get_current(task_id)

    async def save_task(self, task: Task, **kwargs: Any) -> bool:
        self.saving.set()
        await self.release.wait()
        return await super().save_task(task, **kwargs)


async def test_a_completion_behind_its_start_waits_for_it_and_reads_nothing() -> None:
    master = Master()
    store = SlowStore()
    master.store = store
    master.writer = TaskWriter(store, EventBus(), index=TaskIndex())
    master.lifecycle = Lifecycle(store, master.clock, master.writer)
    task_id = await master.submit()
    store.release.set()
    placed = await master.writer.change(task_id, _place)
    assert placed is not None
    store.release.clear()
    reads = store.current_reads

    store.saving.clear()
    start = asyncio.create_task(master.lifecycle.started(task_id, placed.epoch, "w1"))
    await store.saving.wait()  # the start is being written
    end = asyncio.create_task(master.lifecycle.finished(done(task_id, placed.epoch)))
    store.release.set()  # the end's first step runs before the start's save resumes
    started, ended = await asyncio.gather(start, end)

    assert started is not None and started.status is TaskStatus.RUNNING
    assert ended is not None and ended.status is TaskStatus.COMPLETED
    assert store.current_reads == reads  # both decided on what this master wrote


def _place(task: Task, _attempt: object) -> Transition | None:
    return rules.place(task, worker_id="w1", at=task.created_at)
