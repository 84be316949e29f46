"""The task lifecycle as pure functions: (task, its current attempt, a stimulus) in,
a typed `Transition` out.

    place    queued -> assigned               a new attempt (epoch + 1) on a worker
    progress assigned (unchanged)             a start-up step: pulling, creating; an event only
    start    assigned -> running              the worker reported the container started
    finish   assigned|running -> final, or back to queued by the retry rule
    refuse   assigned -> queued               the assignment never reached the worker
    lose     assigned|running -> queued|failed  the worker vanished (a counted retry)
    time_out running -> failed                it ran past its timeout
    cancel   any non-final -> cancelled

A function answers None when the stimulus no longer applies (an older epoch, another
worker, a task already final, a repeated report): delivery is at-least-once, so these
are normal and never errors. Services load, call one of these, and compare-and-set
what it returns; nothing here reads a clock or mutates its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cloudai.domain.task import (
    RETRY_RULE,
    Attempt,
    AttemptReport,
    AttemptStatus,
    Failure,
    RetryRule,
    Task,
    TaskEvent,
    TaskResult,
    TaskSpec,
    TaskStatus,
    move_attempt,
    transition,
)


@dataclass(frozen=True, slots=True)
class Transition:
    task: Task  # the task as it is to be written
    events: tuple[TaskEvent, ...]
    attempt: Attempt | None = None  # the new or changed attempt to upsert
    result: TaskResult | None = None  # the final outcome, when the task ends


MAX_PROGRESS_TEXT = 200

_ATTEMPT_END = {
    Failure.CANCELLED: AttemptStatus.CANCELLED,
    Failure.LOST: AttemptStatus.LOST,
    Failure.UNREACHABLE: AttemptStatus.REFUSED,
    Failure.INTERRUPTED: AttemptStatus.INTERRUPTED,
    Failure.TIMEOUT: AttemptStatus.TIMED_OUT,
}


def holds(task: Task, worker_id: str, epoch: int) -> bool:
    """True when this worker runs the task's current attempt."""
    return task.status.holds_resources and task.worker_id == worker_id and task.epoch == epoch


def admit(spec: TaskSpec, *, task_id: str, user_id: str, at: datetime, task_type: str,
          tau_s: float) -> Task:  # fmt: skip
    """A new queued task, its SLA deadline fixed from its submission."""
    return Task(
        task_id=task_id,
        user_id=user_id,
        name=spec.name or spec.docker_image,
        docker_image=spec.docker_image,
        command=spec.command,
        request=spec.request,
        tag=spec.tag,
        k_value=spec.k_value,
        created_at=at,
        updated_at=at,
        priority=spec.priority,
        max_retries=spec.max_retries,
        timeout_s=spec.timeout_s,
        env=dict(spec.env),
        target_worker_id=spec.target_worker_id,
        task_type=task_type,
        tau_s=tau_s,
        deadline=at + timedelta(seconds=spec.k_value * tau_s),
    )


def place(task: Task, *, worker_id: str, at: datetime, by: str = "") -> Transition | None:
    """Open the next attempt on `worker_id`; `by` names the policy that chose it."""
    if task.status is not TaskStatus.QUEUED:
        return None  # cancelled (or placed by another applier) meanwhile
    epoch = task.epoch + 1
    moved, event = transition(
        task, TaskStatus.ASSIGNED, at=at, reason=f"placed on {worker_id}",
        epoch=epoch, worker_id=worker_id, exit_code=None, scheduler=by,
    )  # fmt: skip
    return Transition(moved, (event,), Attempt(task.task_id, epoch, worker_id, assigned_at=at))


def progress(
    task: Task, attempt: Attempt | None, *, worker_id: str, epoch: int, text: str, at: datetime
) -> Transition | None:
    """A start-up step of the current attempt (pulling its image, creating its
    container): recorded as an event; the task, still assigned, is written unchanged."""
    if attempt is None or not holds(task, worker_id, epoch):
        return None
    if task.status is not TaskStatus.ASSIGNED:
        return None  # it runs already: a late report must not read as after "running"
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())  # one line
    if len(text) > MAX_PROGRESS_TEXT:
        text = text[: MAX_PROGRESS_TEXT - 1] + "…"
    event = TaskEvent(task.task_id, at, task.status, task.status, text, task.epoch)
    return Transition(task, (event,))


def start(
    task: Task, attempt: Attempt | None, *, worker_id: str, epoch: int, at: datetime
) -> Transition | None:
    if attempt is None or not holds(task, worker_id, epoch):
        return None
    if task.status is not TaskStatus.ASSIGNED:
        return None  # a repeated start report
    moved, event = transition(task, TaskStatus.RUNNING, at=at, reason="started")
    return Transition(moved, (event,), move_attempt(attempt, AttemptStatus.RUNNING, started_at=at))


def finish(
    task: Task, attempt: Attempt | None, report: AttemptReport, *, at: datetime
) -> Transition | None:
    if attempt is None or not holds(task, report.worker_id, report.epoch):
        return None
    lead: tuple[TaskEvent, ...] = ()
    if report.exit_code is not None and task.status is TaskStatus.ASSIGNED:
        # It ran, though its start report was overtaken: keep the history true.
        started = start(task, attempt, worker_id=report.worker_id, epoch=report.epoch, at=at)
        if started is not None and started.attempt is not None:
            task, attempt, lead = started.task, started.attempt, started.events
    if report.outcome is TaskStatus.COMPLETED:
        failure = None
    elif report.outcome is TaskStatus.CANCELLED:
        failure = Failure.CANCELLED
    else:
        failure = report.failure or _failure_of(report)
    ended = _end(
        task, attempt, failure, report.reason, at,
        exit_code=report.exit_code, oom_killed=report.oom_killed, log_size=report.log_size,
    )  # fmt: skip
    return Transition(ended.task, lead + ended.events, ended.attempt, ended.result)


def refuse(
    task: Task, attempt: Attempt | None, *, worker_id: str, epoch: int, why: str, at: datetime
) -> Transition | None:
    """The assignment never reached the worker, or it said no: nothing ran."""
    if attempt is None or not holds(task, worker_id, epoch):
        return None
    if task.status is not TaskStatus.ASSIGNED:
        return None
    return _end(task, attempt, Failure.UNREACHABLE, f"worker {worker_id} refused: {why}", at)


def lose(
    task: Task, attempt: Attempt | None, *, worker_id: str, epoch: int, at: datetime
) -> Transition | None:
    """The worker vanished, or no longer has the attempt."""
    if attempt is None or not holds(task, worker_id, epoch):
        return None
    return _end(task, attempt, Failure.LOST, f"worker {worker_id} lost", at)


def time_out(task: Task, attempt: Attempt | None, *, at: datetime) -> Transition | None:
    if attempt is None or task.status is not TaskStatus.RUNNING or task.timeout_s is None:
        return None
    return _end(
        task, attempt, Failure.TIMEOUT, f"timeout: ran longer than {task.timeout_s:g} s", at
    )


def cancel(
    task: Task, attempt: Attempt | None, *, at: datetime, reason: str = "cancelled by user"
) -> Transition | None:
    if task.status.is_terminal:
        return None
    if task.status.holds_resources and attempt is not None:
        return _end(task, attempt, Failure.CANCELLED, reason, at)
    moved, event = transition(task, TaskStatus.CANCELLED, at=at, reason=reason)
    return Transition(moved, (event,))


def _failure_of(report: AttemptReport) -> Failure:
    """A failure the worker did not classify (an older or foreign worker)."""
    if report.oom_killed:
        return Failure.OOM
    return Failure.EXIT if report.exit_code is not None else Failure.EXECUTOR


def _end(
    task: Task,
    attempt: Attempt,
    failure: Failure | None,
    reason: str,
    at: datetime,
    *,
    exit_code: int | None = None,
    oom_killed: bool = False,
    log_size: int = 0,
) -> Transition:
    """End the current attempt; the task ends too, or waits again, by the retry rule."""
    ended = move_attempt(
        attempt, _attempt_end(failure),
        finished_at=at, exit_code=exit_code, oom_killed=oom_killed, reason=reason,
    )  # fmt: skip
    rule = RetryRule.FINAL if failure is None else RETRY_RULE[failure]
    if rule is RetryRule.COUNTED and task.retries >= task.max_retries:
        reason = f"{reason}; no retries left ({task.retries} of {task.max_retries} used)"
        rule = RetryRule.FINAL
    if rule is not RetryRule.FINAL:
        retries = task.retries + (rule is RetryRule.COUNTED)
        note = (
            f"retry {retries} of {task.max_retries}"
            if rule is RetryRule.COUNTED
            else "no retry spent"
        )
        moved, event = transition(
            task, TaskStatus.QUEUED, at=at, reason=f"{reason}; requeued ({note})",
            worker_id=None, retries=retries,
        )  # fmt: skip
        return Transition(moved, (event,), ended)
    outcome = _outcome(failure)
    met = None if outcome is TaskStatus.CANCELLED or task.deadline is None else (
        outcome is TaskStatus.COMPLETED and at <= task.deadline
    )  # fmt: skip
    moved, event = transition(task, outcome, at=at, reason=reason, exit_code=exit_code, sla_met=met)
    result = TaskResult(
        task.task_id, task.epoch, attempt.worker_id, outcome, exit_code, reason, log_size, at
    )
    return Transition(moved, (event,), ended, result)


def _attempt_end(failure: Failure | None) -> AttemptStatus:
    if failure is None:
        return AttemptStatus.SUCCEEDED
    return _ATTEMPT_END.get(failure, AttemptStatus.FAILED)


def _outcome(failure: Failure | None) -> TaskStatus:
    if failure is None:
        return TaskStatus.COMPLETED
    return TaskStatus.CANCELLED if failure is Failure.CANCELLED else TaskStatus.FAILED
