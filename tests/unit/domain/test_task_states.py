from datetime import UTC, datetime

import pytest

from cloudai.domain.errors import InvalidTransition
from cloudai.domain.resources import Resources
from cloudai.domain.task import ALLOWED, TERMINAL, Task, TaskStatus, transition

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)


def make_task(status: TaskStatus = TaskStatus.QUEUED) -> Task:
    return Task(
        task_id="task-1", user_id="u-1", name="t", docker_image="img", command="true",
        request=Resources(1, 0.5, 1, 0), tag="", k_value=2.0, created_at=T0, updated_at=T0,
        status=status,
    )  # fmt: skip


def test_happy_path_records_events_and_timestamps() -> None:
    original = make_task()
    events = []
    task = original
    for status, reason in [
        (TaskStatus.ASSIGNED, "placed"),
        (TaskStatus.RUNNING, "started"),
        (TaskStatus.COMPLETED, "exit code 0"),
    ]:
        task, event = transition(task, status, at=T1, reason=reason)
        events.append(event)
    assert original.status is TaskStatus.QUEUED  # pure: the input is left as it was
    assert [(e.from_status, e.to_status) for e in events] == [
        (TaskStatus.QUEUED, TaskStatus.ASSIGNED),
        (TaskStatus.ASSIGNED, TaskStatus.RUNNING),
        (TaskStatus.RUNNING, TaskStatus.COMPLETED),
    ]
    assert task.started_at == T1 and task.finished_at == T1
    assert task.reason == "exit code 0"


@pytest.mark.parametrize("final", sorted(TERMINAL))
@pytest.mark.parametrize("target", list(TaskStatus))
def test_terminal_states_are_final(final: TaskStatus, target: TaskStatus) -> None:
    with pytest.raises(InvalidTransition):
        transition(make_task(final), target, at=T1)


def test_queued_cannot_jump_to_running_or_completed() -> None:
    for target in (TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.FAILED):
        with pytest.raises(InvalidTransition):
            transition(make_task(), target, at=T1)


def test_table_only_names_known_statuses() -> None:
    assert all(a in TaskStatus and b in TaskStatus for a, b in ALLOWED)
    assert not any(a in TERMINAL for a, _ in ALLOWED)
