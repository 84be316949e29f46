"""A restarted runner adopts the attempts whose runs outlived its last process (same
epoch, same record, its GPUs again) and clears the others; shutdown modes: `leave`
keeps started runs (and their records) for the next start, `drain` refuses new work
and waits for what runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from cloudai.domain.attempts import Assignment, FilePiece, FinishedAttempt
from cloudai.domain.errors import Conflict
from cloudai.domain.resources import Resources
from cloudai.domain.task import TaskStatus
from cloudai.worker import spool
from cloudai.worker.executors.base import ExecutionSpec
from cloudai.worker.executors.fake import FakeExecutor, FakeRun
from cloudai.worker.gpus import GpuAllocator
from cloudai.worker.master_link import MasterLink
from cloudai.worker.runner import Runner


class Link:
    """Records what reaches the master."""

    def __init__(self) -> None:
        self.reports: list[FinishedAttempt] = []
        self.logs: dict[tuple[str, int], bytes] = {}
        self.reported = asyncio.Event()

    async def progress(
        self, task_id: str, epoch: int, phase: str, at_ms: int, message: str = ""
    ) -> None:
        return None

    async def upload(self, pieces: AsyncIterator[FilePiece]) -> None:
        async for piece in pieces:
            if piece.kind == "log":
                key = (piece.task_id, piece.epoch)
                self.logs[key] = self.logs.get(key, b"") + piece.data

    async def report(self, finished: FinishedAttempt) -> None:
        self.reports.append(finished)
        self.reported.set()


def assignment(task_id: str, gpu: int = 0) -> Assignment:
    return Assignment(task_id, 1, "img", "hold", Resources(1, 1, 1, gpu))


def script(spec: ExecutionSpec) -> FakeRun:
    return FakeRun(lines=[f"{spec.task_id} ran"], block=True)


def runner_for(tmp_path: Path, executor: FakeExecutor, link: Link) -> Runner:
    gpus = GpuAllocator([0, 1])
    return Runner("w1", executor, cast("MasterLink", link), tmp_path, gpus)


async def test_leave_keeps_started_runs_and_the_next_start_adopts_them(tmp_path: Path) -> None:
    first_executor = FakeExecutor(script)
    runner = runner_for(tmp_path, first_executor, Link())
    runner.accept(assignment("left", gpu=1))
    runner.accept(assignment("gone"))
    await first_executor.wait_started("left", 1)
    await first_executor.wait_started("gone", 1)
    held_gpus = runner.gpus.held("left", 1)
    await runner.close(0, "leave")
    assert first_executor.leaving and first_executor.stops == []  # nothing was stopped
    records, _ = spool.scan(tmp_path / "attempts")
    assert {r.assignment.task_id for r in records if r.finished is None} == {"left", "gone"}

    # The next start: only "left" still runs (the executor lists it); "gone" does not.
    executor = FakeExecutor(script)
    executor.left = [("left", 1)]
    link = Link()
    runner = runner_for(tmp_path, executor, link)
    recovered = await runner.recover(await executor.leftovers())
    assert (recovered.adopted, recovered.cleared, recovered.resent) == (1, 1, 0)
    assert [(h.task_id, h.epoch, h.started) for h in runner.held()] == [("left", 1, True)]
    assert not (tmp_path / "attempts" / "gone-1").exists()
    await executor.wait_started("left", 1)
    assert executor.adopted == [("left", 1)]
    assert runner.gpus.held("left", 1) == held_gpus  # the same device, not another
    assert executor.specs[0].gpu_ids == held_gpus

    executor.finish("left", 1)
    await asyncio.wait_for(link.reported.wait(), 5)
    (report,) = link.reports
    assert (report.report.task_id, report.report.epoch) == ("left", 1)
    assert report.report.outcome is TaskStatus.COMPLETED
    # The log holds what the first process wrote, then what the adopted run wrote.
    assert link.logs[("left", 1)] == b"left ran\nleft ran\n"
    await runner.close(0)


async def test_a_start_adopts_nothing_the_executor_does_not_list(tmp_path: Path) -> None:
    executor = FakeExecutor(script)
    runner = runner_for(tmp_path, executor, Link())
    runner.accept(assignment("t1"))
    await executor.wait_started("t1", 1)
    await runner.close(0, "leave")
    again = FakeExecutor(script)
    runner = runner_for(tmp_path, again, Link())
    recovered = await runner.recover([("other-task", 1)])
    assert (recovered.adopted, recovered.cleared) == (0, 1)
    assert runner.held() == [] and again.adopted == []


async def test_stop_interrupts_and_clears_for_the_next_start(tmp_path: Path) -> None:
    executor = FakeExecutor(script)
    link = Link()
    runner = runner_for(tmp_path, executor, link)
    runner.accept(assignment("t1"))
    await executor.wait_started("t1", 1)
    await runner.close(0, "stop")
    assert executor.stops == [("t1", 1)] and not executor.leaving
    (report,) = link.reports
    assert report.report.failure is not None and report.report.failure.value == "interrupted"


async def test_drain_refuses_new_work_and_waits_for_the_running(tmp_path: Path) -> None:
    executor = FakeExecutor(script)
    link = Link()
    runner = runner_for(tmp_path, executor, link)
    runner.accept(assignment("t1"))
    await executor.wait_started("t1", 1)
    runner.stop_intake()  # what drain() does first
    with pytest.raises(Conflict, match="draining"):
        runner.accept(assignment("t2"))
    draining = asyncio.create_task(runner.drain(30))
    executor.finish("t1", 1)
    assert await draining == 0  # it waited: nothing is left
    (report,) = link.reports
    assert report.report.outcome is TaskStatus.COMPLETED
    await runner.close(0, "drain")
    assert executor.stops == []


async def test_a_drain_past_its_timeout_says_how_many_are_left(tmp_path: Path) -> None:
    executor = FakeExecutor(script)
    runner = runner_for(tmp_path, executor, Link())
    runner.accept(assignment("t1"))
    await executor.wait_started("t1", 1)
    assert await runner.drain(0) == 1
    await runner.close(0)
    assert executor.stops == [("t1", 1)]
