"""Start-up steps (pulling, creating) are events of an assigned task: no status change."""

from __future__ import annotations

from cloudai.domain import lifecycle as rules
from cloudai.domain.task import TaskStatus
from tests.unit.domain.test_lifecycle import at, placed, queued, running


def test_a_step_of_the_current_attempt_is_an_event_only() -> None:
    task, attempt = placed(queued())
    moved = rules.progress(
        task, attempt, worker_id="w-1", epoch=1, text="pulling image img: 1 of 2 layers", at=at(3)
    )
    assert moved is not None
    assert moved.task == task  # still assigned, nothing else changed either
    assert moved.attempt is None and moved.result is None
    (event,) = moved.events
    assert (event.from_status, event.to_status) == (TaskStatus.ASSIGNED, TaskStatus.ASSIGNED)
    assert (event.reason, event.epoch, event.at) == ("pulling image img: 1 of 2 layers", 1, at(3))


def test_a_step_of_another_attempt_or_after_the_start_is_ignored() -> None:
    task, attempt = placed(queued())
    assert rules.progress(task, attempt, worker_id="w-2", epoch=1, text="x", at=at(3)) is None
    assert rules.progress(task, attempt, worker_id="w-1", epoch=0, text="x", at=at(3)) is None
    assert rules.progress(task, None, worker_id="w-1", epoch=1, text="x", at=at(3)) is None
    started, attempt = running(queued())
    # A late "creating" must never read as if it came after "running".
    assert rules.progress(started, attempt, worker_id="w-1", epoch=1, text="x", at=at(3)) is None


def test_the_workers_text_becomes_one_bounded_line() -> None:
    task, attempt = placed(queued())
    moved = rules.progress(
        task, attempt, worker_id="w-1", epoch=1, text="a\nb\x1b " + "c" * 500, at=at(3)
    )
    assert moved is not None
    reason = moved.events[0].reason
    assert reason.startswith("a b ") and len(reason) == rules.MAX_PROGRESS_TEXT
