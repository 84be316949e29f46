"""Retention: which finished tasks' logs and outputs go is a pure function of now; the
sweep removes exactly those (rows kept), remembers how far it got, and leaves the rest."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from cloudai.config import MasterSettings, parse_duration
from cloudai.domain.resources import Resources
from cloudai.domain.task import OutputFile, Task, TaskStatus, submitted_event
from cloudai.master.files import FileArea
from cloudai.master.retention import RetentionSweep, expired
from cloudai.ports import FakeClock
from cloudai.store.memory import InMemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = 86400.0


def task(task_id: str, status: TaskStatus, finished_days_ago: float | None) -> Task:
    made = Task(
        task_id=task_id, user_id="u1", name=task_id, docker_image="img", command=None,
        request=Resources(1, 1, 1, 0), tag="", k_value=2.0, created_at=T0, updated_at=T0,
    )  # fmt: skip
    now = T0 + timedelta(days=30)
    finished = None if finished_days_ago is None else now - timedelta(days=finished_days_ago)
    return dataclasses.replace(made, status=status, finished_at=finished)


def test_only_finished_tasks_past_retention_expire() -> None:
    now = T0 + timedelta(days=30)
    tasks = [
        task("old", TaskStatus.COMPLETED, 8),
        task("edge", TaskStatus.FAILED, 7),  # exactly at the limit: goes
        task("young", TaskStatus.CANCELLED, 6.9),
        task("running", TaskStatus.RUNNING, None),
    ]
    assert [t.task_id for t in expired(tasks, now, 7 * DAY)] == ["old", "edge"]
    assert expired(tasks, now, 30 * DAY) == []


async def _stored(store: InMemoryStore, area: FileArea, made: Task) -> Path:
    await store.add_task(made, submitted_event(made))
    await store.replace_files(made.task_id, [OutputFile("out.txt", 1, "x")])
    outputs = area.task_dir(made.user_id, made.task_id)
    outputs.mkdir(parents=True)
    (outputs / "out.txt").write_text("x")
    log = area.log_path(made.task_id, 1)
    log.parent.mkdir(parents=True)
    log.write_text("log")
    return log.parent


async def test_the_sweep_removes_expired_data_only_and_keeps_the_rows(tmp_path: Path) -> None:
    store, area = InMemoryStore(), FileArea(tmp_path)
    clock = FakeClock(T0 + timedelta(days=30))
    old_logs = await _stored(store, area, task("old", TaskStatus.COMPLETED, 8))
    young_logs = await _stored(store, area, task("young", TaskStatus.COMPLETED, 6))
    sweep = RetentionSweep(store, clock, area, 7 * DAY)
    assert await sweep.sweep_once() == 1
    assert not old_logs.exists() and not area.task_dir("u1", "old").exists()
    assert await store.list_files("old") == [] and await store.get_task("old") is not None
    assert young_logs.exists() and len(await store.list_files("young")) == 1
    assert sweep.swept_until is not None and sweep.swept_until[1] == "old"

    assert await sweep.sweep_once() == 0  # nothing new has expired
    clock.advance(1.5 * DAY)
    assert await sweep.sweep_once() == 1
    assert not young_logs.exists() and await store.list_files("young") == []


async def test_without_retention_nothing_goes(tmp_path: Path) -> None:
    store, area = InMemoryStore(), FileArea(tmp_path)
    logs = await _stored(store, area, task("old", TaskStatus.COMPLETED, 300))
    sweep = RetentionSweep(store, FakeClock(T0 + timedelta(days=30)), area, None)
    assert await sweep.sweep_once() == 0 and logs.exists()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * DAY), ("12h", 43200.0), ("90m", 5400.0), ("45s", 45.0), ("2w", 14 * DAY),
     (" 3600 ", 3600.0), ("1.5H", 5400.0), ("", None)],
)  # fmt: skip
def test_retention_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds
    assert MasterSettings(retention=text).retention_s() == seconds


@pytest.mark.parametrize("text", ["soon", "0d", "-1h", "5y", "1d2h"])
def test_bad_retention_is_a_setting_error(text: str) -> None:
    with pytest.raises(ValidationError, match="not a duration"):
        MasterSettings(retention=text)
