"""User-facing task operations: submit, read, list, cancel. Ownership is enforced
here: another user's task does not exist for you (NotFound, never Forbidden)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from cloudai.domain import lifecycle as rules
from cloudai.domain import sla
from cloudai.domain.errors import Conflict, Forbidden, NotFound, Unavailable
from cloudai.domain.resources import Resources
from cloudai.domain.task import (
    Attempt,
    OutputFile,
    Task,
    TaskEvent,
    TaskSpec,
    TaskStatus,
    submitted_event,
)
from cloudai.domain.users import Role, User
from cloudai.domain.workers import WorkerStatus
from cloudai.master.accounting import Accounting
from cloudai.master.admission import Admission
from cloudai.master.gateway import WorkerGateway
from cloudai.master.registry import WorkerRegistry
from cloudai.master.transitions import TaskWriter
from cloudai.master.watch import TaskWatch
from cloudai.ports import Clock, SlaCount, Store

logger = logging.getLogger(__name__)


def new_task_id() -> str:
    return f"task-{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """What a task listing asks for; None means any."""

    statuses: tuple[TaskStatus, ...] | None = None
    tag: str | None = None
    worker_id: str | None = None
    owner: str | None = None  # another user's tasks: admins only
    since: datetime | None = None
    after: tuple[datetime, str] | None = None  # (created_at, task_id) of the last one seen
    limit: int = 100
    offset: int = 0
    id_prefix: str | None = None  # ids that start with it (the CLI's short ids)
    search: str | None = None  # id, name or image contains it, in any case


@dataclass(frozen=True, slots=True)
class Submitted:
    task: Task
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class HitRate:
    met: int
    total: int

    @property
    def rate(self) -> float:
        return self.met / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class SlaReport:
    by_type: dict[str, HitRate]
    by_scheduler: dict[str, HitRate]


def _rates(counts: list[SlaCount], key: Callable[[SlaCount], str]) -> dict[str, HitRate]:
    summed: dict[str, tuple[int, int]] = {}
    for count in counts:
        met, total = summed.get(key(count), (0, 0))
        summed[key(count)] = (met + count.met, total + count.total)
    return {name: HitRate(met, total) for name, (met, total) in sorted(summed.items())}


def can_see(user: User, task: Task) -> bool:
    return user.role is Role.ADMIN or task.user_id == user.user_id


class TaskService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        registry: WorkerRegistry,
        gateway: WorkerGateway,
        writer: TaskWriter,
        watch: TaskWatch,
        accounting: Accounting,
        admission: Admission,
        wake_scheduler: Callable[[], None],
    ) -> None:
        self._accounting = accounting
        self._admission = admission
        self._writer = writer
        self._watch = watch
        self._store = store
        self._clock = clock
        self._registry = registry
        self._gateway = gateway
        self._wake = wake_scheduler

    async def submit(self, user: User, spec: TaskSpec) -> Submitted:
        """Queue a task. Warnings say what the user may not expect: an inferred task
        type, or a request no registered worker could ever fit (it stays queued:
        workers may join)."""
        if spec.priority > 0 and user.role is not Role.ADMIN:
            raise Forbidden("only admins may raise a priority above 0 (lower it with a negative)")
        task_type, inferred = sla.infer_task_type(spec.task_type or spec.tag, spec.request)
        async with self._admission.admitting(user, spec.docker_image):
            task = rules.admit(
                spec,
                task_id=new_task_id(),
                user_id=user.user_id,
                at=self._clock.now(),
                task_type=task_type,
                tau_s=self._accounting.tau_for(task_type),
            )
            await self._writer.add(task, submitted_event(task))  # published: /ws/events
        logger.info("task submitted", extra={"task_id": task.task_id, "user_id": user.user_id})
        self._wake()
        warnings = []
        if inferred:
            given = spec.task_type or spec.tag
            named = f"tag {given!r} is not a task type" if given else "no task type given"
            warnings.append(f"{named}; treated as {task_type!r} from its request")
        warnings.extend(self._placement_warnings(task))
        return Submitted(task, warnings)

    def _placement_warnings(self, task: Task) -> list[str]:
        target_id = task.target_worker_id
        if target_id:
            target = self._registry.get(target_id)
            if target is None or target.status is WorkerStatus.LOST:
                return [f"worker {target_id} is not registered; the task waits for it"]
            capacities: Collection[Resources] = (target.total,)
        else:
            capacities = self._registry.capacities()
        if not any(task.request.fits_in(total) for total in capacities):
            return ["no registered worker could ever fit this request; it waits for one to join"]
        return []

    async def get(self, user: User, task_id: str) -> Task:
        task = await self._store.get_task(task_id)
        if task is None or not can_see(user, task):
            raise NotFound(f"task {task_id} not found")
        return task

    async def list_tasks(
        self, user: User, wanted: TaskFilter, *, with_files: bool = False
    ) -> list[Task]:
        """The caller's tasks (an admin's: everyone's, or `wanted.owner`'s), newest
        first, filtered; page with `wanted.after` (the last task's key)."""
        owner = wanted.owner
        if user.role is not Role.ADMIN:
            if owner not in (None, user.user_id):
                raise Forbidden("only admins may list other users' tasks")
            owner = user.user_id
        return await self._store.list_tasks(
            user_id=owner, statuses=wanted.statuses, limit=wanted.limit, offset=wanted.offset,
            newest_first=True, worker_id=wanted.worker_id, after=wanted.after, tag=wanted.tag,
            since=wanted.since, with_files=with_files, id_prefix=wanted.id_prefix,
            search=wanted.search,
        )  # fmt: skip

    async def wait(
        self, user: User, task_id: str, until: set[TaskStatus], timeout_s: float
    ) -> Task:
        """The task once it is in one of `until` (or as it is when time runs out)."""

        async def check() -> tuple[bool, Task]:
            task = await self.get(user, task_id)
            return task.status in until, task

        return await self._watch.wait_for(check, timeout_s, task_id=task_id)

    async def history(self, task: Task) -> tuple[list[TaskEvent], list[Attempt]]:
        """Events and attempts of a task the caller already obtained through get/wait
        (which checked ownership)."""
        return await self._store.list_events(task.task_id), await self._store.list_attempts(
            task.task_id
        )

    async def files(self, user: User, task_id: str) -> list[OutputFile]:
        await self.get(user, task_id)
        return await self._store.list_files(task_id)

    async def output_file(self, user: User, task_id: str, path: str) -> tuple[Task, OutputFile]:
        """A recorded output file: the metadata, not the disk, says what exists."""
        task = await self.get(user, task_id)
        for recorded in await self._store.list_files(task_id):
            if recorded.path == path:
                return task, recorded
        raise NotFound(f"no file {path!r} in task {task_id}")

    async def sla_report(self) -> SlaReport:
        """Deadline hit rates of finished tasks, per task type and per scheduler."""
        counts = await self._store.sla_counts()
        return SlaReport(
            by_type=_rates(counts, lambda c: c.task_type),
            by_scheduler=_rates(counts, lambda c: c.scheduler or "unknown"),
        )

    async def cancel(self, user: User, task_id: str) -> Task:
        """Cancel now. The task is final at once; a running attempt is told to stop and
        anything it reports later for that epoch is ignored (files are still kept)."""
        task = await self.get(user, task_id)
        if task.status.is_terminal:
            raise Conflict(f"task {task_id} is already {task.status}")
        at = self._clock.now()
        cancelled = await self._writer.change(task_id, lambda t, a: rules.cancel(t, a, at=at))
        if cancelled is None:
            raise Conflict(f"task {task_id} finished before it could be cancelled")
        await self.stop_on_worker(task)
        return cancelled

    async def stop_on_worker(self, task: Task) -> None:
        """Tell the worker holding `task`'s attempt (as `task` was) to stop it."""
        worker = self._registry.get(task.worker_id) if task.worker_id else None
        if worker is None or not task.status.holds_resources:
            return
        try:
            await self._gateway.cancel(worker, task.task_id, task.epoch)
        except Unavailable:
            # The next heartbeat's reconciliation tells the worker to kill it.
            logger.warning("cancel not delivered", extra={"task_id": task.task_id})
