"""A page of the task list is encoded from `task_fields` straight to JSON: it must be
byte for byte what `TaskOut` would answer."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from pydantic_core import to_json

from cloudai.api.schemas import TaskListOut, TaskOut, task_fields
from cloudai.domain import lifecycle
from cloudai.domain.resources import Resources
from cloudai.domain.task import Task, TaskSpec, TaskStatus

T0 = datetime(2026, 1, 1, 12, 0, 0, 1234, tzinfo=UTC)


def queued() -> Task:
    spec = TaskSpec("img", ["sh", "-c", "echo hi"], Resources(2, 1, 3, 1))  # ints, not floats
    return lifecycle.admit(spec, task_id="t-1", user_id="u1", at=T0, task_type="cpu-light",
                           tau_s=5)  # fmt: skip


def ended() -> Task:
    return dataclasses.replace(
        queued(), command="true", status=TaskStatus.FAILED, reason="exit 3", epoch=2,
        worker_id="w1", exit_code=3, started_at=T0 + timedelta(seconds=1),
        finished_at=T0 + timedelta(seconds=2), env={"A": "b"}, timeout_s=30, k_value=2,
        deadline=T0 + timedelta(seconds=10), sla_met=False, target_worker_id="w1", retries=1,
    )  # fmt: skip


def test_fields_are_task_outs_in_its_order() -> None:
    assert list(task_fields(queued())) == list(TaskOut.model_fields)


def test_a_page_encodes_as_task_list_out_would() -> None:
    tasks = [queued(), ended()]
    extras = [("waiting for a worker", 3), (None, None)]
    page = {
        "tasks": [task_fields(t, *e) for t, e in zip(tasks, extras, strict=True)],
        "limit": 2, "offset": 0, "next_cursor": "abc",
    }  # fmt: skip
    model = TaskListOut(
        tasks=[TaskOut.of(t, *e) for t, e in zip(tasks, extras, strict=True)],
        limit=2, offset=0, next_cursor="abc",
    )  # fmt: skip
    assert to_json(page) == model.model_dump_json().encode()
