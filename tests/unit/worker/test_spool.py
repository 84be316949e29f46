"""Attempt records on disk: what a restarted worker reads back, and what it drops."""

from __future__ import annotations

import os
from pathlib import Path

from cloudai.domain.attempts import Assignment, FinishedAttempt
from cloudai.domain.resources import Resources
from cloudai.domain.task import AttemptReport, Failure, TaskStatus
from cloudai.worker import spool

ASSIGNMENT = Assignment(
    "t1", 2, "img:1", ["sh", "-c", "echo"], Resources(1.5, 0.5, 1, 1), user_id="u1",
    task_name="job", submitted_at=1700000000, env={"A": "b"}, timeout_s=30.0,
)  # fmt: skip
FINISHED = FinishedAttempt(
    AttemptReport("t1", 2, "w1", TaskStatus.FAILED, 3, "exit code 3", False, 12, Failure.EXIT),
    log_tail="tail\n", output_files=("a.txt",), started_at_ms=1, finished_at_ms=2,
)  # fmt: skip


def record(root: Path, name: str, *, finished: bool, size: int = 0, age_s: float = 0) -> Path:
    directory = root / name
    directory.mkdir(parents=True)
    spool.save_assignment(directory, ASSIGNMENT)
    if finished:
        spool.save_finished(directory, FINISHED)
    (directory / "task.log").write_bytes(b"x" * size)
    when = 1_000_000 - age_s
    for path in directory.iterdir():
        os.utime(path, (when, when))
    return directory


def test_records_read_back_exactly(tmp_path: Path) -> None:
    record(tmp_path, "t1-2", finished=True)
    (found,), unreadable = spool.scan(tmp_path)
    assert (found.assignment, found.finished) == (ASSIGNMENT, FINISHED)
    assert unreadable == []


def test_an_unfinished_record_has_no_result_and_junk_is_unreadable(tmp_path: Path) -> None:
    record(tmp_path, "t1-2", finished=False)
    (tmp_path / "junk").mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / spool.ASSIGNMENT_FILE).write_text("{not json")
    (found,), unreadable = spool.scan(tmp_path)
    assert found.finished is None
    assert sorted(p.name for p in unreadable) == ["broken", "junk"]
    assert spool.scan(tmp_path / "missing") == ([], [])


def test_old_results_then_the_oldest_beyond_the_size_cap_are_dropped(tmp_path: Path) -> None:
    record(tmp_path, "old", finished=True, age_s=100)
    record(tmp_path, "mid", finished=True, size=2000, age_s=50)
    record(tmp_path, "new", finished=True, size=2000, age_s=10)
    record(tmp_path, "running", finished=False, size=5000, age_s=500)
    records, _ = spool.scan(tmp_path)
    assert [r.directory.name for r in records] == ["running", "old", "mid", "new"]

    def dropped(**limits: float) -> list[str]:
        kept = spool.over_limits(records, now=1_000_000, **limits)  # type: ignore[arg-type]
        return sorted(r.directory.name for r in kept)

    assert dropped(max_age_s=1000, max_bytes=10**9) == []
    assert dropped(max_age_s=60, max_bytes=10**9) == ["old"]
    assert dropped(max_age_s=1000, max_bytes=3000) == ["mid", "old"]
