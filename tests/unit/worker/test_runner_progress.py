"""The runner forwards an executor's start-up steps to the master in order, one try
each, and never lets a lost one hold back the start report."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

from cloudai.domain.attempts import (
    PHASE_CREATING,
    PHASE_PULLING,
    Assignment,
    FilePiece,
    FinishedAttempt,
)
from cloudai.domain.errors import Unavailable
from cloudai.domain.resources import Resources
from cloudai.worker.executors.base import ExecutionSpec
from cloudai.worker.executors.fake import FakeExecutor, FakeRun
from cloudai.worker.master_link import MasterLink
from cloudai.worker.runner import Runner

STEPS = [(PHASE_PULLING, "pulling image img"), (PHASE_PULLING, "pulling image img: 1 of 1 layers"),
         (PHASE_CREATING, "creating container")]  # fmt: skip


class Link:
    def __init__(self, failing: set[str] | None = None) -> None:
        self.failing = failing or set()
        self.calls: list[tuple[str, str]] = []
        self.reported = asyncio.Event()

    async def progress(
        self, task_id: str, epoch: int, phase: str, at_ms: int, message: str = ""
    ) -> None:
        self.calls.append((phase, message))
        if phase in self.failing:
            raise Unavailable("master unreachable")
        if phase == "started":
            self.reported.set()

    async def upload(self, pieces: AsyncIterator[FilePiece]) -> None:
        async for _piece in pieces:
            pass

    async def report(self, finished: FinishedAttempt) -> None:
        return None


def _script(spec: ExecutionSpec) -> FakeRun:
    return FakeRun(progress=list(STEPS), block=True)


async def _start(tmp_path: Path, link: Link) -> tuple[Runner, FakeExecutor]:
    executor = FakeExecutor(_script)
    runner = Runner("w1", executor, cast("MasterLink", link), tmp_path)
    runner.accept(Assignment("t1", 1, "img", "block", Resources(1, 1, 1, 0)))
    await executor.wait_started("t1", 1)
    await asyncio.wait_for(link.reported.wait(), 5)
    return runner, executor


async def test_steps_reach_the_master_in_order_before_the_start(tmp_path: Path) -> None:
    link = Link()
    runner, _ = await _start(tmp_path, link)
    assert link.calls == [*STEPS, ("started", "")]
    await runner.close(0)


async def test_an_undelivered_step_is_dropped_and_the_start_still_goes_out(
    tmp_path: Path,
) -> None:
    link = Link(failing={PHASE_PULLING})
    runner, _ = await _start(tmp_path, link)
    assert link.calls == [*STEPS, ("started", "")]  # each pulling line tried once
    await runner.close(0)


class ReportingLink(Link):
    """Also says when the result arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.finished: list[FinishedAttempt] = []
        self.result = asyncio.Event()

    async def report(self, finished: FinishedAttempt) -> None:
        self.finished.append(finished)
        self.result.set()


async def test_an_attempt_that_ended_before_its_start_report_went_out_sends_only_its_result(
    tmp_path: Path,
) -> None:
    link = ReportingLink()
    executor = FakeExecutor(lambda spec: FakeRun(exit_code=0))  # ends at once
    runner = Runner("w1", executor, cast("MasterLink", link), tmp_path)
    runner.accept(Assignment("t1", 1, "img", "true", Resources(1, 1, 1, 0)))
    await asyncio.wait_for(link.result.wait(), 5)
    assert link.calls == []  # no start report: the result says it ran
    assert [f.report.exit_code for f in link.finished] == [0]
    await runner.close(0)
