"""The runner hands each GPU attempt its own devices and frees them however it ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from cloudai.domain.attempts import Assignment, FilePiece, FinishedAttempt
from cloudai.domain.errors import Conflict
from cloudai.domain.resources import Resources
from cloudai.worker.executors.base import ExecutionSpec
from cloudai.worker.executors.fake import FakeExecutor, FakeRun
from cloudai.worker.gpus import FakeGpuProbe, GpuAllocator, offered_indexes
from cloudai.worker.master_link import MasterLink
from cloudai.worker.runner import Runner


class _Link:
    """Accepts every report: the master side is not under test here."""

    def __init__(self) -> None:
        self.results: list[FinishedAttempt] = []

    async def progress(
        self, task_id: str, epoch: int, phase: str, at_ms: int, message: str = ""
    ) -> None:
        return None

    async def upload(self, pieces: AsyncIterator[FilePiece]) -> None:
        async for _piece in pieces:
            pass

    async def report(self, finished: FinishedAttempt) -> None:
        self.results.append(finished)


def _script(spec: ExecutionSpec) -> FakeRun:
    if spec.command == "fail-to-start":
        return FakeRun(exit_code=None, error="image missing")
    if spec.command == "exit-1":
        return FakeRun(exit_code=1)
    return FakeRun(block=True)


def _task(task_id: str, gpus: int, command: str = "block", epoch: int = 1) -> Assignment:
    return Assignment(task_id, epoch, "img", command, Resources(1, 1, 1, gpus))


@pytest.fixture
async def runner(tmp_path: Path) -> AsyncIterator[tuple[Runner, FakeExecutor]]:
    executor = FakeExecutor(_script)
    # The fake inventory of CLOUDAI_WORKER_FAKE_GPUS=2, as the worker app builds it.
    gpus = GpuAllocator(offered_indexes(FakeGpuProbe.with_count(2).devices(), None))
    link = cast("MasterLink", _Link())
    runner = Runner("w1", executor, link, tmp_path, gpus)
    yield runner, executor
    await runner.close(0)


async def _ended(runner: Runner, task_id: str) -> None:
    run = runner.find(task_id, 1)
    assert run is not None
    await asyncio.wait_for(run.done.wait(), 5)


def _ids(executor: FakeExecutor, task_id: str) -> tuple[int, ...]:
    (spec,) = [s for s in executor.specs if s.task_id == task_id]
    return spec.gpu_ids


async def test_concurrent_gpu_tasks_get_distinct_devices_and_a_third_waits(
    runner: tuple[Runner, FakeExecutor],
) -> None:
    run, executor = runner
    run.accept(_task("a", 1))
    run.accept(_task("b", 1))
    await executor.wait_started("a", 1)
    await executor.wait_started("b", 1)
    assert {_ids(executor, "a"), _ids(executor, "b")} == {(0,), (1,)}

    with pytest.raises(Conflict, match=r"refused task c: .*0 of 2 are free"):
        run.accept(_task("c", 1))
    assert run.find("c", 1) is None

    executor.finish("a", 1)
    await _ended(run, "a")
    run.accept(_task("c", 1))
    await executor.wait_started("c", 1)
    assert _ids(executor, "c") == _ids(executor, "a")
    assert run.gpus.free() == ()


async def test_a_task_without_gpus_gets_none_and_takes_none(
    runner: tuple[Runner, FakeExecutor],
) -> None:
    run, executor = runner
    run.accept(_task("cpu", 0))
    run.accept(_task("two", 2))
    await executor.wait_started("two", 1)
    assert (_ids(executor, "cpu"), _ids(executor, "two")) == ((), (0, 1))


async def test_more_gpus_than_the_worker_has_is_refused(
    runner: tuple[Runner, FakeExecutor],
) -> None:
    run, _executor = runner
    with pytest.raises(Conflict, match="needs 3 GPUs; this worker has 2"):
        run.accept(_task("big", 3))
    assert run.gpus.free() == (0, 1)


@pytest.mark.parametrize("command", ["fail-to-start", "exit-1"])
async def test_devices_are_freed_when_an_attempt_fails(
    runner: tuple[Runner, FakeExecutor], command: str
) -> None:
    run, _executor = runner
    run.accept(_task("a", 2, command))
    await _ended(run, "a")
    assert run.gpus.free() == (0, 1)


async def test_devices_are_freed_when_an_attempt_is_cancelled(
    runner: tuple[Runner, FakeExecutor],
) -> None:
    run, executor = runner
    run.accept(_task("a", 2))
    await executor.wait_started("a", 1)
    assert run.gpus.free() == ()
    assert run.cancel("a", 1, 0) is True
    await _ended(run, "a")
    assert run.gpus.free() == (0, 1)


async def test_devices_are_freed_when_the_runner_closes(
    runner: tuple[Runner, FakeExecutor],
) -> None:
    run, executor = runner
    run.accept(_task("a", 1))
    run.accept(_task("b", 1))
    await executor.wait_started("b", 1)
    await run.close(0)
    assert run.gpus.free() == (0, 1)


async def test_devices_are_freed_when_preparing_the_attempt_fails(
    runner: tuple[Runner, FakeExecutor], tmp_path: Path
) -> None:
    run, _executor = runner
    (tmp_path / "attempts").write_text("not a directory")  # mkdir under it fails
    with pytest.raises(OSError):
        run.accept(_task("a", 1))
    assert run.gpus.free() == (0, 1)
