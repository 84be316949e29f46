"""An attempt's limits as the runner applies them: /output files over the count or
byte caps (or the task's storage request) are left out, named in the log and counted
in the result's reason; a log written straight to disk is cut to the log cap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

from cloudai.domain.attempts import Assignment, FilePiece, FinishedAttempt
from cloudai.domain.resources import Resources
from cloudai.domain.task import TaskStatus
from cloudai.worker.executors.base import ExecutionSpec
from cloudai.worker.executors.fake import FakeExecutor, FakeRun
from cloudai.worker.limits import AttemptLimits
from cloudai.worker.logcap import LogCap
from cloudai.worker.master_link import MasterLink
from cloudai.worker.runner import Runner

MiB = 1024**2
FILES = {"a.bin": b"a" * 100, "b.bin": b"b" * 100, "c.bin": b"c" * 100}


class Link:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.reported: asyncio.Future[FinishedAttempt] = asyncio.Future()

    async def progress(self, *args: object, **kwargs: object) -> None:
        return None

    async def upload(self, pieces: AsyncIterator[FilePiece]) -> None:
        async for piece in pieces:
            self.files[piece.path] = self.files.get(piece.path, b"") + piece.data

    async def report(self, finished: FinishedAttempt) -> None:
        self.reported.set_result(finished)


async def run_one(
    tmp_path: Path, run: FakeRun, limits: AttemptLimits, storage_gb: float = 0
) -> tuple[FinishedAttempt, Link]:
    def script(spec: ExecutionSpec) -> FakeRun:
        return run

    link = Link()
    runner = Runner(
        "w1", FakeExecutor(script), cast("MasterLink", link), tmp_path, attempt_limits=limits
    )
    runner.accept(Assignment("t1", 1, "img", "go", Resources(1, 1, storage_gb, 0)))
    finished = await asyncio.wait_for(link.reported, 5)
    await runner.close(0)
    return finished, link


async def test_files_over_the_count_cap_are_left_out_and_said_so(tmp_path: Path) -> None:
    finished, link = await run_one(
        tmp_path, FakeRun(files=FILES), AttemptLimits(max_output_files=2)
    )
    assert finished.report.outcome is TaskStatus.COMPLETED
    assert finished.output_files == ("a.bin", "b.bin")
    assert "1 output file over the caps not collected" in finished.report.reason
    log = link.files["task.log"].decode()
    assert "[cloudai] not collected from /output: c.bin: over cap (max_files=2)" in log
    assert "c.bin" not in link.files


async def test_files_over_the_byte_cap_are_left_out(tmp_path: Path) -> None:
    finished, _ = await run_one(tmp_path, FakeRun(files=FILES), AttemptLimits(max_output_bytes=250))
    assert finished.output_files == ("a.bin", "b.bin")
    assert "1 output file over the caps" in finished.report.reason


async def test_the_storage_request_bounds_the_outputs(tmp_path: Path) -> None:
    files = {"big.bin": b"x" * (2 * MiB), "small.bin": b"y" * 10}
    finished, link = await run_one(
        tmp_path,
        FakeRun(files=files),
        AttemptLimits(),
        storage_gb=1 / 1024,  # 1 MiB
    )
    assert finished.output_files == ("small.bin",)
    assert "1 output file over the caps" in finished.report.reason
    assert "big.bin: over cap (max_total_bytes" in link.files["task.log"].decode()


async def test_within_the_caps_nothing_is_said(tmp_path: Path) -> None:
    finished, _ = await run_one(tmp_path, FakeRun(files=FILES), AttemptLimits())
    assert finished.output_files == ("a.bin", "b.bin", "c.bin")
    assert finished.report.reason == "exit code 0"


async def test_a_log_over_the_cap_is_cut_with_one_notice(tmp_path: Path) -> None:
    lines = [f"{n:05d}" for n in range(2000)]  # 12,000 bytes
    finished, link = await run_one(
        tmp_path, FakeRun(lines=lines), AttemptLimits(max_log_bytes=4096)
    )
    cap = LogCap(4096)
    whole = "".join(f"{line}\n" for line in lines).encode()
    assert (
        link.files["task.log"] == whole[: cap.head_bytes] + cap.notice() + whole[-cap.tail_bytes :]
    )
    assert finished.report.outcome is TaskStatus.COMPLETED
    assert finished.report.log_size == len(link.files["task.log"])
