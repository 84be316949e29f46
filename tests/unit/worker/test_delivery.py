"""Every delivery ends: retried while the master is unreachable (until the result is
too old), sent without files the master will not or cannot store (or keeps failing
to take), dropped when the master no longer wants it or keeps failing the result; an
attempt with nothing to ship sends no upload, and its result says so."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from cloudai.domain.attempts import Assignment, FilePiece, FinishedAttempt
from cloudai.domain.errors import (
    CloudAIError,
    Conflict,
    Forbidden,
    InvalidRequest,
    StorageFull,
    Unavailable,
)
from cloudai.domain.resources import Resources
from cloudai.domain.task import AttemptReport, Failure, TaskStatus
from cloudai.worker import delivery as delivery_module
from cloudai.worker.delivery import Delivery
from cloudai.worker.logcap import index_path
from cloudai.worker.master_link import MasterLink
from cloudai.worker.outputs import collect_outputs

ASSIGNMENT = Assignment("t1", 1, "img", "true", Resources(1, 1, 1))


def finished(outcome: TaskStatus = TaskStatus.COMPLETED, age_s: float = 0) -> FinishedAttempt:
    report = AttemptReport("t1", 1, "w1", outcome, 0, "exit code 0", False, 3)
    return FinishedAttempt(
        report, output_files=("a.txt",), finished_at_ms=int((time.time() - age_s) * 1000)
    )


class ScriptedLink:
    """Raises the scripted errors in turn for each call, then succeeds."""

    def __init__(
        self, uploads: list[Exception] | None = None, reports: list[Exception] | None = None
    ) -> None:
        self.upload_errors, self.report_errors = list(uploads or []), list(reports or [])
        self.uploaded: list[list[FilePiece]] = []
        self.reported: list[FinishedAttempt] = []

    async def upload(self, pieces: AsyncIterator[FilePiece]) -> None:
        sent = [piece async for piece in pieces]
        if self.upload_errors:
            raise self.upload_errors.pop(0)
        self.uploaded.append(sent)

    async def report(self, result: FinishedAttempt) -> None:
        if self.report_errors:
            raise self.report_errors.pop(0)
        self.reported.append(result)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery_module, "_BACKOFF_START_S", 0.0)


async def deliver(tmp_path: Path, link: ScriptedLink, result: FinishedAttempt) -> None:
    (tmp_path / "output").mkdir(exist_ok=True)
    (tmp_path / "output" / "a.txt").write_bytes(b"alpha")
    (tmp_path / "task.log").write_bytes(b"log")
    outputs = collect_outputs(tmp_path / "output")
    sender = Delivery(cast("MasterLink", link), max_age_s=60)
    await sender.deliver(ASSIGNMENT, result, outputs, tmp_path)


async def test_files_then_the_result_after_the_master_comes_back(tmp_path: Path) -> None:
    link = ScriptedLink(uploads=[Unavailable("down")] * 3, reports=[Unavailable("down")])
    await deliver(tmp_path, link, finished())
    (pieces,) = link.uploaded
    assert [(p.path, p.kind, p.data) for p in pieces] == [
        ("task.log", "log", b"log"), ("a.txt", "output", b"alpha"),
    ]  # fmt: skip
    assert pieces[-1].last_file and pieces[-1].sha256
    (sent,) = link.reported
    assert sent.report == finished().report and sent.output_files == ("a.txt",)


async def test_files_the_master_refuses_are_left_out_and_said(tmp_path: Path) -> None:
    link = ScriptedLink(uploads=[InvalidRequest("upload exceeds 10 bytes")])
    await deliver(tmp_path, link, finished())
    (sent,) = link.reported
    assert sent.report.outcome is TaskStatus.COMPLETED and sent.output_files == ()
    assert sent.report.reason == "exit code 0; output files not stored: upload exceeds 10 bytes"


async def test_a_full_master_disk_fails_a_success_after_bounded_tries(tmp_path: Path) -> None:
    link = ScriptedLink(uploads=[StorageFull("no space")] * 10)
    await deliver(tmp_path, link, finished())
    (sent,) = link.reported
    assert (sent.report.outcome, sent.report.failure) == (TaskStatus.FAILED, Failure.STORAGE)
    assert sent.report.reason == "output storage full: no space"
    assert len(link.upload_errors) == 10 - delivery_module._BOUNDED_TRIES


async def test_a_failed_task_keeps_its_own_failure_when_storage_is_full(tmp_path: Path) -> None:
    link = ScriptedLink(uploads=[StorageFull("no space")] * 10)
    await deliver(tmp_path, link, finished(TaskStatus.FAILED))
    (sent,) = link.reported
    assert sent.report.outcome is TaskStatus.FAILED and sent.report.failure is None
    assert sent.report.reason.endswith("; output storage full: no space")


async def test_a_full_disk_is_the_reason_even_when_a_try_failed_otherwise(
    tmp_path: Path,
) -> None:
    # A full master disk can abort the upload's stream as INTERNAL while the worker sends.
    mixed = [StorageFull("no space"), CloudAIError("Internal error from Core")] * 5
    link = ScriptedLink(uploads=mixed)
    await deliver(tmp_path, link, finished())
    (sent,) = link.reported
    assert (sent.report.outcome, sent.report.failure) == (TaskStatus.FAILED, Failure.STORAGE)
    assert sent.report.reason == "output storage full: no space"


async def test_files_that_keep_failing_do_not_cost_the_result(tmp_path: Path) -> None:
    link = ScriptedLink(uploads=[CloudAIError("internal")] * 10)
    await deliver(tmp_path, link, finished())
    (sent,) = link.reported  # sent without its files, not dropped (the task'd be lost)
    assert (sent.report.outcome, sent.report.failure) == (TaskStatus.FAILED, Failure.EXECUTOR)
    assert sent.report.reason == "output files not stored: internal"
    assert sent.output_files == ()


@pytest.mark.parametrize(
    ("errors", "reported"),
    [
        ([Conflict("superseded")], 0),  # the master no longer wants it: dropped at once
        ([CloudAIError("internal")] * 10, 0),  # keeps failing: dropped after bounded tries
        ([CloudAIError("internal")] * 2, 1),  # a passing failure: sent on a later try
    ],
)
async def test_report_outcomes_are_bounded(
    tmp_path: Path, errors: list[Exception], reported: int
) -> None:
    link = ScriptedLink(reports=errors)
    await deliver(tmp_path, link, finished())
    assert len(link.reported) == reported


async def test_a_superseded_attempt_is_dropped_at_its_first_fenced_upload(
    tmp_path: Path,
) -> None:
    # The master fences the files of an attempt it gave to another worker meanwhile.
    link = ScriptedLink(uploads=[Forbidden("w1 does not hold t1 epoch 1")] * 10)
    await deliver(tmp_path, link, finished())
    assert link.uploaded == [] and link.reported == []
    assert len(link.upload_errors) == 9  # one try, no retries


async def test_a_result_older_than_the_spool_age_stops_being_retried(tmp_path: Path) -> None:
    link = ScriptedLink(uploads=[Unavailable("down")] * 1000)
    await deliver(tmp_path, link, finished(age_s=120))
    assert link.uploaded == [] and link.reported == []
    assert len(link.upload_errors) == 999  # one try, then expired


async def ship_from(tmp_path: Path, link: ScriptedLink) -> FinishedAttempt:
    """Deliver what `tmp_path` holds as it is; the result the master was sent."""
    outputs = collect_outputs(tmp_path / "output")
    sender = Delivery(cast("MasterLink", link), max_age_s=60)
    await sender.deliver(ASSIGNMENT, finished(), outputs, tmp_path)
    (sent,) = link.reported
    return sent


@pytest.mark.parametrize("log", [None, b""])  # never written, or the task printed nothing
async def test_an_attempt_with_nothing_to_ship_sends_no_upload(
    tmp_path: Path, log: bytes | None
) -> None:
    if log is not None:
        (tmp_path / "task.log").write_bytes(log)
        index_path(tmp_path / "task.log").write_bytes(b"")
    link = ScriptedLink()
    sent = await ship_from(tmp_path, link)
    assert link.uploaded == []
    assert sent.report == dataclasses.replace(finished().report, no_files=True)
    assert sent.output_files == ()


@pytest.mark.parametrize("present", ["log", "index", "output"])
async def test_anything_to_ship_is_uploaded_as_before(tmp_path: Path, present: str) -> None:
    log = tmp_path / "task.log"
    log.write_bytes(b"printed" if present == "log" else b"")
    index_path(log).write_bytes(b"0 stdout 1\n" if present == "index" else b"")
    if present == "output":
        (tmp_path / "output").mkdir()
        (tmp_path / "output" / "a.txt").write_bytes(b"")  # even an empty one is shipped
    link = ScriptedLink()
    sent = await ship_from(tmp_path, link)
    (pieces,) = link.uploaded
    assert pieces[-1].last_file
    assert not sent.report.no_files
