"""Users' recent usage (for fair share) and learned task durations (τ, for SLA deadlines
and the risk-aware policy). This object owns both; they are rebuilt from the store's
finished tasks at start, then kept current by observing every committed transition.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cloudai.domain import sla
from cloudai.domain.lifecycle import Transition
from cloudai.domain.task import Task, TaskStatus
from cloudai.ports import Clock, Store

# Usage older than this many half-lives weighs under 1/32 of its value: not worth reading.
_HISTORY_HALF_LIVES = 5


class Accounting:
    def __init__(self, clock: Clock, *, half_life_s: float) -> None:
        self._clock = clock
        self._half_life_s = half_life_s
        self._usage: dict[str, float] = {}  # decayed to `_as_of`
        self._as_of = clock.now()
        self._tau = sla.TauTable()

    async def load(self, store: Store) -> None:
        since = self._clock.now() - timedelta(seconds=_HISTORY_HALF_LIVES * self._half_life_s)
        after: tuple[datetime, str] | None = None
        while True:
            page = await store.list_finished(since, after=after)
            for task in page:
                self._account(task, task.started_at, task.finished_at)
            if len(page) < 1000:
                return
            last = page[-1]
            after = (last.finished_at or since, last.task_id)

    def observe(self, before: Task, transition: Transition) -> None:
        """Charge a finished attempt's run to its user; learn τ from a completed task."""
        attempt = transition.attempt
        if attempt is None or attempt.finished_at is None:
            return
        self._account(transition.task, attempt.started_at, attempt.finished_at)

    def _account(self, task: Task, started: datetime | None, finished: datetime | None) -> None:
        if started is None or finished is None:
            return  # it never ran
        runtime = (finished - started).total_seconds()
        self._decay_to(self._clock.now())
        # The run is charged as of its end, decayed from then to now.
        aged = (self._as_of - finished).total_seconds()
        charged = sla.decay(sla.charge(0.0, task.request, runtime), aged, self._half_life_s)
        self._usage[task.user_id] = self._usage.get(task.user_id, 0.0) + charged
        if task.status is TaskStatus.COMPLETED:
            self._tau = self._tau.observe(task.task_type, runtime)

    def _decay_to(self, now: datetime) -> None:
        elapsed = (now - self._as_of).total_seconds()
        if elapsed <= 0:
            return
        self._usage = {
            user: sla.decay(value, elapsed, self._half_life_s)
            for user, value in self._usage.items()
        }
        self._as_of = now

    def usage(self) -> dict[str, float]:
        """Each user's decayed usage of finished runs, as of now."""
        self._decay_to(self._clock.now())
        return dict(self._usage)

    def tau(self) -> dict[str, float]:
        return self._tau.as_dict()

    def tau_for(self, task_type: str) -> float:
        return self._tau.tau(task_type)
