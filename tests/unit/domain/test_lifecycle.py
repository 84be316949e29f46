"""The pure task lifecycle: stimuli in, typed transitions out, the retry rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cloudai.domain import lifecycle as rules
from cloudai.domain.errors import InvalidTransition
from cloudai.domain.resources import Resources
from cloudai.domain.task import (
    ATTEMPT_ALLOWED,
    RETRY_RULE,
    Attempt,
    AttemptReport,
    AttemptStatus,
    Failure,
    RetryRule,
    Task,
    TaskSpec,
    TaskStatus,
    move_attempt,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def queued(max_retries: int = 3) -> Task:
    spec = TaskSpec("img", "true", Resources(1, 0.5, 1, 0), k_value=2.0, max_retries=max_retries)
    return rules.admit(spec, task_id="t-1", user_id="u-1", at=T0, task_type="mixed", tau_s=10)


def placed(task: Task, worker: str = "w-1") -> tuple[Task, Attempt]:
    moved = rules.place(task, worker_id=worker, at=at(1))
    assert moved is not None and moved.attempt is not None
    return moved.task, moved.attempt


def running(task: Task, worker: str = "w-1") -> tuple[Task, Attempt]:
    task, attempt = placed(task, worker)
    moved = rules.start(task, attempt, worker_id=worker, epoch=task.epoch, at=at(2))
    assert moved is not None and moved.attempt is not None
    return moved.task, moved.attempt


def report(task: Task, outcome: TaskStatus, **kw: object) -> AttemptReport:
    fields: dict[str, object] = {
        "exit_code": 0, "reason": "", "oom_killed": False, "log_size": 0, "failure": None,
    }  # fmt: skip
    fields.update(kw)
    return AttemptReport(task.task_id, task.epoch, task.worker_id or "", outcome, **fields)  # type: ignore[arg-type]


def test_admit_fixes_the_deadline_from_submission() -> None:
    task = queued()
    assert task.status is TaskStatus.QUEUED
    assert task.deadline == T0 + timedelta(seconds=20)  # k 2.0 x tau 10


def test_place_opens_a_new_attempt_with_the_next_epoch() -> None:
    task, attempt = placed(queued())
    assert (task.status, task.epoch, task.worker_id) == (TaskStatus.ASSIGNED, 1, "w-1")
    assert (attempt.epoch, attempt.status) == (1, AttemptStatus.ASSIGNED)


def test_place_declines_a_task_no_longer_queued() -> None:
    task, _ = placed(queued())
    assert rules.place(task, worker_id="w-2", at=at(3)) is None


def test_start_needs_the_holding_worker_and_epoch_and_is_idempotent() -> None:
    task, attempt = placed(queued())
    assert rules.start(task, attempt, worker_id="w-2", epoch=1, at=at(2)) is None
    assert rules.start(task, attempt, worker_id="w-1", epoch=0, at=at(2)) is None
    started = rules.start(task, attempt, worker_id="w-1", epoch=1, at=at(2))
    assert started is not None and started.task.status is TaskStatus.RUNNING
    assert started.task.started_at == at(2)
    assert started.attempt is not None and started.attempt.status is AttemptStatus.RUNNING
    again = rules.start(started.task, started.attempt, worker_id="w-1", epoch=1, at=at(3))
    assert again is None


def test_success_ends_the_task_with_a_result_and_the_sla_verdict() -> None:
    task, attempt = running(queued())
    done = rules.finish(task, attempt, report(task, TaskStatus.COMPLETED), at=at(5))
    assert done is not None and done.result is not None and done.attempt is not None
    assert done.task.status is TaskStatus.COMPLETED and done.task.sla_met is True
    assert done.attempt.status is AttemptStatus.SUCCEEDED
    late = rules.finish(task, attempt, report(task, TaskStatus.COMPLETED), at=at(25))
    assert late is not None and late.task.sla_met is False


def test_a_report_overtaking_the_start_still_passes_through_running() -> None:
    task, attempt = placed(queued())
    done = rules.finish(task, attempt, report(task, TaskStatus.COMPLETED), at=at(5))
    assert done is not None
    assert [(e.from_status, e.to_status) for e in done.events] == [
        (TaskStatus.ASSIGNED, TaskStatus.RUNNING),
        (TaskStatus.RUNNING, TaskStatus.COMPLETED),
    ]


@pytest.mark.parametrize("failure", [f for f, r in RETRY_RULE.items() if r is RetryRule.FINAL])
def test_final_failures_end_the_task(failure: Failure) -> None:
    task, attempt = running(queued())
    outcome = TaskStatus.CANCELLED if failure is Failure.CANCELLED else TaskStatus.FAILED
    ended = rules.finish(
        task, attempt, report(task, outcome, exit_code=1, failure=failure), at=at(5)
    )
    assert ended is not None and ended.task.status is outcome and ended.result is not None


def test_lost_is_retried_and_counted_until_retries_run_out() -> None:
    task = queued(max_retries=2)
    for expected_retries in (1, 2):
        task, attempt = running(task)
        lost = rules.lose(task, attempt, worker_id="w-1", epoch=task.epoch, at=at(3))
        assert lost is not None and lost.task.status is TaskStatus.QUEUED
        assert lost.task.retries == expected_retries and lost.task.worker_id is None
        assert lost.attempt is not None and lost.attempt.status is AttemptStatus.LOST
        task = lost.task
    task, attempt = running(task)
    final = rules.lose(task, attempt, worker_id="w-1", epoch=task.epoch, at=at(3))
    assert final is not None and final.task.status is TaskStatus.FAILED
    assert "no retries left (2 of 2 used)" in final.task.reason
    assert final.task.epoch == 3


def test_a_refused_or_interrupted_attempt_costs_no_retry() -> None:
    task, attempt = placed(queued(max_retries=0))
    refused = rules.refuse(task, attempt, worker_id="w-1", epoch=1, why="refused", at=at(2))
    assert refused is not None and refused.task.status is TaskStatus.QUEUED
    assert refused.task.retries == 0
    assert refused.attempt is not None and refused.attempt.status is AttemptStatus.REFUSED
    task, attempt = running(refused.task)
    stop = report(task, TaskStatus.FAILED, exit_code=143, failure=Failure.INTERRUPTED)
    interrupted = rules.finish(task, attempt, stop, at=at(3))
    assert interrupted is not None and interrupted.task.status is TaskStatus.QUEUED
    assert interrupted.task.retries == 0


def test_an_unclassified_failure_from_an_old_worker_is_bounded() -> None:
    task, attempt = running(queued(max_retries=0))
    never_ran = report(task, TaskStatus.FAILED, exit_code=None, reason="daemon error")
    ended = rules.finish(task, attempt, never_ran, at=at(3))
    assert ended is not None and ended.task.status is TaskStatus.FAILED


def test_time_out_ends_a_running_task_as_failed() -> None:
    task, attempt = running(replace(queued(), timeout_s=30))
    ended = rules.time_out(task, attempt, at=at(40))
    assert ended is not None and ended.task.status is TaskStatus.FAILED
    assert ended.task.reason.startswith("timeout")
    assert ended.attempt is not None and ended.attempt.status is AttemptStatus.TIMED_OUT


def test_cancel_queued_or_running_and_never_twice() -> None:
    cancelled = rules.cancel(queued(), None, at=at(1))
    assert cancelled is not None and cancelled.task.status is TaskStatus.CANCELLED
    assert cancelled.attempt is None
    task, attempt = running(queued())
    stopped = rules.cancel(task, attempt, at=at(3))
    assert stopped is not None and stopped.attempt is not None
    assert stopped.attempt.status is AttemptStatus.CANCELLED and stopped.task.sla_met is None
    assert rules.cancel(stopped.task, stopped.attempt, at=at(4)) is None


def test_reports_for_old_epochs_or_other_workers_do_nothing() -> None:
    task, attempt = running(queued())
    stale = replace(report(task, TaskStatus.COMPLETED), epoch=0)
    assert rules.finish(task, attempt, stale, at=at(5)) is None
    other = replace(report(task, TaskStatus.COMPLETED), worker_id="w-9")
    assert rules.finish(task, attempt, other, at=at(5)) is None


def test_attempt_table_refuses_leaving_a_final_status() -> None:
    ended = Attempt("t", 1, "w", assigned_at=T0, status=AttemptStatus.SUCCEEDED)
    with pytest.raises(InvalidTransition):
        move_attempt(ended, AttemptStatus.RUNNING)
    assert not any(a.is_final for a, _ in ATTEMPT_ALLOWED)
    assert (AttemptStatus.RUNNING, AttemptStatus.REFUSED) not in ATTEMPT_ALLOWED
