"""Read views of the cluster for the REST API: workers with what they hold, the queue
in placement order, cluster-wide counts, and the master's readiness.

Visibility follows the task rules: a user sees only their own task ids; counts and
resources are aggregates and are shown to everyone.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from cloudai.domain.errors import Forbidden, InvalidRequest, NotFound
from cloudai.domain.resources import Resources
from cloudai.domain.task import Task, TaskStatus
from cloudai.domain.users import Role, User
from cloudai.domain.workers import Eligibility, TaskUsage, Worker, WorkerStatus
from cloudai.master.dispatcher import Dispatcher
from cloudai.master.lifecycle import PAGE, Lifecycle
from cloudai.master.registry import WorkerRegistry
from cloudai.master.tasks import SlaReport, TaskService, can_see
from cloudai.master.telemetry import Sample, Telemetry
from cloudai.ports import Clock, Store

logger = logging.getLogger(__name__)

_UNRANKED = 2**62  # queued since the last pass: no position yet, after the ranked ones
_MIN_STALE_S = 10.0


@dataclass(frozen=True, slots=True)
class WorkerView:
    worker: Worker
    allocated: Resources  # the requests of every task holding resources on it
    running: int  # how many tasks hold resources on it (all users')
    tasks: list[Task]  # those of them the caller may see

    @property
    def available(self) -> Resources:
        return (self.worker.total - self.allocated).clamped()


@dataclass(frozen=True, slots=True)
class QueueEntry:
    task: Task
    position: int | None  # from the last scheduling pass; None if queued since
    pending_reason: str | None


@dataclass(frozen=True, slots=True)
class QueuePage:
    entries: list[QueueEntry]
    total: int
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ClusterStats:
    workers: dict[WorkerStatus, int]
    total: Resources  # over active workers
    allocated: Resources
    tasks: dict[TaskStatus, int]
    sla: SlaReport

    @property
    def available(self) -> Resources:
        return (self.total - self.allocated).clamped()

    @property
    def queue_depth(self) -> int:
        return self.tasks.get(TaskStatus.QUEUED, 0)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: list[Check]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)


class ClusterService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        registry: WorkerRegistry,
        lifecycle: Lifecycle,
        dispatcher: Dispatcher,
        telemetry: Telemetry,
        tasks: TaskService,
        *,
        db_timeout_s: float = 2.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._registry = registry
        self._lifecycle = lifecycle
        self._dispatcher = dispatcher
        self._telemetry = telemetry
        self._tasks = tasks
        self._db_timeout_s = db_timeout_s

    # --- workers

    async def workers(self, user: User) -> list[WorkerView]:
        held: dict[str, list[Task]] = defaultdict(list)
        for task in await self._lifecycle.holding():
            held[task.worker_id or ""].append(task)
        return [_view(user, w, held[w.worker_id]) for w in self._registry.all()]

    async def worker(self, user: User, worker_id: str) -> WorkerView:
        worker = self._known(worker_id)
        return _view(user, worker, await self._lifecycle.holding(worker_id))

    async def worker_tasks(self, user: User, worker_id: str) -> list[Task]:
        """Tasks holding resources on the worker that the caller may see."""
        return (await self.worker(user, worker_id)).tasks

    def worker_samples(self, worker_id: str, limit: int | None = None) -> list[Sample]:
        self._known(worker_id)
        return self._telemetry.samples(worker_id, limit)

    async def set_eligibility(
        self, user: User, worker_id: str, eligibility: Eligibility
    ) -> WorkerView:
        """Drain, cordon or reopen a worker: admins only."""
        if user.role is not Role.ADMIN:
            raise Forbidden("admins only")
        await self._registry.set_eligibility(worker_id, eligibility)
        if eligibility is Eligibility.OPEN:
            self._dispatcher.wake()  # it may take waiting work at once
        return await self.worker(user, worker_id)

    def task_usage(self, task: Task) -> TaskUsage | None:
        """What the task's current attempt uses now, as its worker last said."""
        worker = self._registry.get(task.worker_id) if task.worker_id else None
        return worker.usage.of_task(task.task_id, task.epoch) if worker is not None else None

    def _known(self, worker_id: str) -> Worker:
        worker = self._registry.get(worker_id)
        if worker is None:
            raise NotFound(f"worker {worker_id} not found")
        return worker

    # --- the queue

    async def queue(self, user: User, cursor: str | None, limit: int) -> QueuePage:
        """Queued tasks the caller may see, in the order of the last scheduling pass
        (then by submission). The cursor is the sort key of the last entry shown, so
        a task leaving the queue between pages shifts nothing; a pass that reorders
        the queue between pages may."""
        after = _decode_cursor(cursor) if cursor else None
        owner = None if user.role is Role.ADMIN else user.user_id
        entries = sorted(
            [self._entry(t) async for t in _queued(self._store, owner)], key=_queue_key
        )
        rest = [e for e in entries if after is None or _queue_key(e) > after]
        page = rest[:limit]
        more = len(rest) > limit
        return QueuePage(page, len(entries), _encode_cursor(_queue_key(page[-1])) if more else None)

    def _entry(self, task: Task) -> QueueEntry:
        return QueueEntry(
            task,
            self._dispatcher.queue_position(task.task_id),
            self._dispatcher.pending_reason(task.task_id),
        )

    # --- cluster-wide

    async def stats(self) -> ClusterStats:
        workers = self._registry.all()
        active = {w.worker_id for w in workers if w.status is WorkerStatus.ACTIVE}
        holding = await self._lifecycle.holding()
        allocated = sum((t.request for t in holding if t.worker_id in active), Resources())
        total = sum((w.total for w in workers if w.worker_id in active), Resources())
        by_status = Counter(w.status for w in workers)
        tasks = await self._store.count_by_status()
        return ClusterStats(
            workers={s: by_status[s] for s in WorkerStatus},
            total=total,
            allocated=allocated,
            tasks=tasks,
            sla=await self._tasks.sla_report(),
        )

    async def readiness(self) -> Readiness:
        return Readiness([await self._database(), self._scheduler()])

    async def _database(self) -> Check:
        try:
            async with asyncio.timeout(self._db_timeout_s):
                await self._store.list_workers()
        except Exception as exc:  # any failure means "not ready"; the probe must answer
            logger.warning("readiness: database check failed", exc_info=True)
            # The class only: the probe is unauthenticated, messages may name hosts.
            return Check("database", False, f"query failed: {type(exc).__name__}")
        return Check("database", True, "ok")

    def _scheduler(self) -> Check:
        limit = max(_MIN_STALE_S, 5 * self._dispatcher.interval_s)
        last = self._dispatcher.last_pass_at
        if last is None:
            return Check("scheduler", False, "no scheduling pass has finished yet")
        age = self._clock.now().timestamp() - last
        if age > limit:
            return Check("scheduler", False, f"last pass {age:.0f} s ago (limit {limit:g} s)")
        return Check("scheduler", True, f"last pass {age:.1f} s ago")


def _view(user: User, worker: Worker, held: list[Task]) -> WorkerView:
    allocated = sum((t.request for t in held), Resources())
    return WorkerView(worker, allocated, len(held), [t for t in held if can_see(user, t)])


async def _queued(store: Store, user_id: str | None) -> AsyncIterator[Task]:
    after: tuple[datetime, str] | None = None
    while True:
        page = await store.list_tasks(
            user_id=user_id, statuses=[TaskStatus.QUEUED], limit=PAGE, after=after
        )
        for task in page:
            yield task
        if len(page) < PAGE:
            return
        after = (page[-1].created_at, page[-1].task_id)


_Key = tuple[int, float, str]


def _queue_key(entry: QueueEntry) -> _Key:
    rank = entry.position if entry.position is not None else _UNRANKED
    return rank, entry.task.created_at.timestamp(), entry.task.task_id


def _encode_cursor(key: _Key) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> _Key:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        rank, at, task_id = raw
        if isinstance(rank, bool) or not isinstance(rank, int):
            raise ValueError("rank")
        if not isinstance(task_id, str) or not isinstance(at, int | float):
            raise ValueError("key")
        return rank, float(at), task_id
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidRequest(f"invalid cursor {cursor!r}") from exc
