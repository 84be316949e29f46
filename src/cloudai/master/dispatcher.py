"""The dispatcher: snapshot -> a named pure policy -> the plan applier.

One loop owns placement. It wakes on submit, on every release and on a timer. It keeps
the last plan's reasons and queue positions for the API. The policy is chosen by
config and can be switched at run time by an admin; with the `agent` policy placement
comes from an external agent (see agent.py), and the built-in fallback policy runs
only while the agent is silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from cloudai.domain.errors import InvalidRequest
from cloudai.domain.resources import Resources
from cloudai.master.applier import PlanApplier
from cloudai.master.lifecycle import Lifecycle
from cloudai.master.snapshot import SnapshotBuilder
from cloudai.scheduling.reasons import target_not_registered
from cloudai.scheduling.registry import SCHEDULER_NAMES, make_scheduler
from cloudai.scheduling.snapshot import Placement, Plan, Scheduler, Snapshot

logger = logging.getLogger(__name__)

AGENT = "agent"
# The longest rest after a costly pass: a pass over 10,000 queued tasks and 1,000 full
# workers plans in ~12 ms, so this bounds what a slow snapshot read adds to a wait.
MAX_REST_S = 0.05


@dataclass(slots=True)
class QueueView:
    """What the last pass decided about every queued task."""

    pending: dict[str, str] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)
    reservations: dict[str, str] = field(default_factory=dict)
    # The reason of tasks left out of the pass: no worker could ever fit their request.
    never_fit: Mapping[Resources, str] = field(default_factory=dict)
    # And those pinned to one of these workers, not registered.
    absent_targets: frozenset[str] = frozenset()
    # Those tasks, oldest first: they queue behind every task the pass considered.
    left_out: tuple[str, ...] = ()
    _left_positions: dict[str, int] | None = None  # built when first asked

    def position(self, task_id: str) -> int | None:
        found = self.positions.get(task_id)
        if found is not None or not self.left_out:
            return found
        if self._left_positions is None:
            after = len(self.positions) + 1
            self._left_positions = {tid: after + n for n, tid in enumerate(self.left_out)}
        return self._left_positions.get(task_id)


class Dispatcher:
    def __init__(
        self,
        builder: SnapshotBuilder,
        applier: PlanApplier,
        lifecycle: Lifecycle,
        *,
        scheduler: str,
        fallback: str = "best_fit",
        interval_s: float,
        agent_active: Callable[[], bool] = lambda: False,
        request_of: Callable[[str], Resources | None] = lambda _task_id: None,
        target_of: Callable[[str], str | None] = lambda _task_id: None,
        monotonic: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._builder = builder
        self._applier = applier
        self._lifecycle = lifecycle
        self._interval_s = interval_s
        self._agent_active = agent_active
        self._request_of = request_of  # a queued task's request (for never-fit reasons)
        self._target_of = target_of  # the worker it is pinned to (absent-target reasons)
        self._wakeup = asyncio.Event()
        self._finishing = False
        self._cursor = 0
        self._view = QueueView()
        self._last_pass_at: float | None = None  # the snapshot time of the last finished pass
        self._monotonic, self._sleep = monotonic, sleep
        self._planning_s = 0.0  # how long the last pass took to snapshot and plan
        self._fallback = make_scheduler(fallback)
        self._name = ""
        self._policy: Scheduler = self._fallback
        self.use(scheduler)

    # --- the policy in use

    @property
    def scheduler(self) -> str:
        return self._name

    @staticmethod
    def names() -> list[str]:
        return [*SCHEDULER_NAMES, AGENT]

    def use(self, name: str) -> None:
        """Switch the policy (admins may, at run time)."""
        if name == AGENT:
            self._policy = self._fallback
        else:
            try:
                self._policy = make_scheduler(name)
            except (KeyError, ValueError) as exc:
                raise InvalidRequest(
                    f"unknown scheduler {name!r}; choose one of {', '.join(self.names())}"
                ) from exc
        self._name = name
        logger.info("scheduler in use: %s", name)
        self.wake()

    # --- what the API shows

    def pending_reason(self, task_id: str) -> str | None:
        view = self._view
        reason = view.pending.get(task_id)
        if reason is None and view.never_fit:
            request = self._request_of(task_id)
            reason = view.never_fit.get(request) if request is not None else None
        if reason is None and view.absent_targets:
            target = self._target_of(task_id)
            if target in view.absent_targets:
                reason = target_not_registered(target)
        return reason

    def queue_position(self, task_id: str) -> int | None:
        return self._view.position(task_id)

    @property
    def last_pass_at(self) -> float | None:
        """When the last pass that finished began (unix seconds, the snapshot's clock);
        None before the first. Readiness checks the loop is alive with it."""
        return self._last_pass_at

    @property
    def interval_s(self) -> float:
        return self._interval_s

    # --- the loop

    def wake(self) -> None:
        self._wakeup.set()

    def finish(self) -> None:
        """End the loop after the pass under way (none is cut off mid-claim)."""
        self._finishing = True
        self.wake()

    async def run(self) -> None:
        while not self._finishing:
            try:
                await self.schedule_once()
            except Exception:  # a failed pass (say, a database hiccup) must not stop scheduling
                logger.exception("scheduling pass failed; retrying on the next tick")
            ended = self._monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._interval_s)
            # After a costly pass (many workers) the loop serves as long again before
            # the next: planning takes at most about half of it, and the submits and
            # releases of that time share one pass instead of one pass each.
            rest = min(self._planning_s, MAX_REST_S) - (self._monotonic() - ended)
            if rest > 0 and not self._finishing:
                await self._sleep(rest)
            self._wakeup.clear()

    async def snapshot(self) -> Snapshot:
        return await self._builder.build(self._cursor)

    async def schedule_once(self) -> list[Placement]:
        """One pass: plan against a fresh snapshot, then apply the plan. With the agent
        in charge and heard from recently, only reasons and positions are refreshed."""
        began = self._monotonic()
        snapshot = await self.snapshot()
        plan = self._policy.plan(snapshot)
        self._planning_s = self._monotonic() - began
        if self._name == AGENT and self._agent_active():
            self._remember(plan, snapshot, placed=())
            self._last_pass_at = snapshot.now
            return []
        self._cursor = plan.cursor
        by = self._policy.name if self._name == AGENT else self._name  # agent silent: fallback
        applied = await self._applier.apply(plan.placements, by=by)
        placed = [a.placement for a in applied if a.placed]
        for refused in (a for a in applied if not a.placed):
            plan.pending[refused.placement.task_id] = f"placement refused: {refused.reason}"
            self._builder.invalidate()
        self._remember(plan, snapshot, placed=[p.task_id for p in placed])
        self._last_pass_at = snapshot.now
        return placed

    def _remember(
        self, plan: Plan, snapshot: Snapshot, placed: tuple[str, ...] | list[str]
    ) -> None:
        if placed:
            # Positions of what still waits, renumbered without the tasks just placed.
            done = set(placed)
            waiting = sorted((pos, tid) for tid, pos in plan.positions.items() if tid not in done)
            positions = {tid: index + 1 for index, (_, tid) in enumerate(waiting)}
        else:
            positions = dict(plan.positions)
        self._view = QueueView(
            dict(plan.pending), positions, dict(plan.reservations), snapshot.never_fit,
            snapshot.absent_targets, snapshot.left_out,
        )  # fmt: skip

    # --- worker events

    async def worker_lost(self, worker_id: str) -> None:
        """End the lost worker's attempts; their tasks wait for another worker."""
        await self._lifecycle.end_missing(worker_id, set())
        self.wake()

    async def worker_registered(self, worker_id: str, running: list[tuple[str, int]]) -> None:
        """A (re)registering worker lists what it still runs; the rest of its attempts
        did not survive and go back to the queue."""
        await self._lifecycle.end_missing(worker_id, set(running))
        self.wake()
