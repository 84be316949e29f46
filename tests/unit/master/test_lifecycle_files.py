"""A finished attempt that shipped no files (the worker sent no upload) leaves the task
no files: a retry forgets what an earlier attempt stored, a first attempt costs no write."""

from __future__ import annotations

from collections.abc import Sequence

from cloudai.domain import lifecycle as rules
from cloudai.domain.resources import Resources
from cloudai.domain.task import AttemptReport, OutputFile, TaskSpec, TaskStatus, submitted_event
from cloudai.master.bus import EventBus
from cloudai.master.lifecycle import Lifecycle
from cloudai.master.transitions import TaskWriter
from cloudai.ports import FakeClock
from cloudai.store.memory import InMemoryStore

SPEC = TaskSpec("img", "true", Resources(1, 1, 1))


class RecordingStore(InMemoryStore):
    """The in-memory store, noting each task whose files are replaced."""

    def __init__(self) -> None:
        super().__init__()
        self.replaced: list[str] = []

    async def replace_files(self, task_id: str, files: Sequence[OutputFile]) -> None:
        self.replaced.append(task_id)
        await super().replace_files(task_id, files)


class Master:
    def __init__(self) -> None:
        self.store, self.clock = RecordingStore(), FakeClock()
        self.writer = TaskWriter(self.store, EventBus())
        self.lifecycle = Lifecycle(self.store, self.clock, self.writer)

    async def submit(self) -> str:
        task = rules.admit(
            SPEC, task_id="t1", user_id="u1", at=self.clock.now(), task_type="", tau_s=1.0
        )
        await self.writer.add(task, submitted_event(task))
        return task.task_id

    async def run(self, task_id: str, worker_id: str) -> int:
        """Place the task on `worker_id` and start it; its epoch."""
        placed = await self.writer.change(
            task_id, lambda t, a: rules.place(t, worker_id=worker_id, at=self.clock.now())
        )
        assert placed is not None
        assert await self.lifecycle.started(task_id, placed.epoch, worker_id) is not None
        return placed.epoch


def done(task_id: str, epoch: int, worker_id: str = "w1") -> AttemptReport:
    return AttemptReport(
        task_id, epoch, worker_id, TaskStatus.COMPLETED, 0, "exit code 0", False, 0,
        no_files=True,
    )  # fmt: skip


async def test_a_retry_that_shipped_nothing_lists_no_outputs_of_the_earlier_attempt() -> None:
    master = Master()
    task_id = await master.submit()
    first = await master.run(task_id, "w1")
    await master.store.replace_files(task_id, [OutputFile("a.txt", 5, "x")])  # its upload
    assert await master.lifecycle.lost(task_id, first, "w1") is not None  # a counted retry
    second = await master.run(task_id, "w2")
    assert second > first

    ended = await master.lifecycle.finished(done(task_id, second, "w2"))
    assert ended is not None and ended.status is TaskStatus.COMPLETED
    assert await master.store.list_files(task_id) == []


async def test_a_first_attempt_that_shipped_nothing_writes_no_files() -> None:
    master = Master()
    task_id = await master.submit()
    epoch = await master.run(task_id, "w1")
    ended = await master.lifecycle.finished(done(task_id, epoch))
    assert ended is not None and ended.status is TaskStatus.COMPLETED
    assert master.store.replaced == []


async def test_a_report_of_an_attempt_no_longer_current_keeps_the_files() -> None:
    master = Master()
    task_id = await master.submit()
    first = await master.run(task_id, "w1")
    assert await master.lifecycle.lost(task_id, first, "w1") is not None
    second = await master.run(task_id, "w2")
    await master.store.replace_files(task_id, [OutputFile("a.txt", 5, "x")])
    # A forged or misrouted report of the current epoch from another worker.
    assert await master.lifecycle.finished(done(task_id, second, "w1")) is None
    assert [f.path for f in await master.store.list_files(task_id)] == ["a.txt"]
