"""The in-memory `Store`: a fake with the SQL store's exact semantics, for tests.

It keeps domain objects in dicts and never hands out a stored object: everything is
copied on the way in and on the way out, so a caller mutating what it passed or got
back cannot change the stored state (the SQL store has that property naturally).
Datetimes are kept and returned in UTC. No method awaits, so on one event loop every
call, `save_task`'s compare-and-set included, is atomic.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from cloudai.domain.errors import Conflict
from cloudai.domain.registrations import Registration
from cloudai.domain.resources import Resources
from cloudai.domain.task import (
    HOLDING,
    Attempt,
    OutputFile,
    Task,
    TaskEvent,
    TaskResult,
    TaskStatus,
)
from cloudai.domain.users import ApiToken, User
from cloudai.domain.workers import Worker
from cloudai.ports import Claim, SlaCount
from cloudai.store.memory_admin import AdminFake

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from cloudai.ports import Store

_D = TypeVar("_D", bound="DataclassInstance")


def _utc(dt: datetime) -> datetime:
    """Naive values are UTC (as the SQL store reads them); aware ones are converted."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _copy(obj: _D) -> _D:
    """A copy of a flat domain object sharing nothing mutable, its datetimes in UTC.

    The nested values (`Resources`, `Usage`) are frozen, so sharing them is safe; the
    only mutable field values are lists (a task's argv `command`) and dicts (its `env`),
    copied here.
    """
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if isinstance(value, datetime):
            changes[field.name] = _utc(value)
        elif isinstance(value, list):
            changes[field.name] = list(value)
        elif isinstance(value, dict):
            changes[field.name] = dict(value)
    return dataclasses.replace(obj, **changes)


def _copy_opt(obj: _D | None) -> _D | None:
    return None if obj is None else _copy(obj)


class InMemoryStore(AdminFake):
    """`cloudai.ports.Store` in dicts. Nothing is persisted; `close` is a no-op."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._workers: dict[str, Worker] = {}
        self._tasks: dict[str, Task] = {}
        self._events: dict[str, list[TaskEvent]] = {}  # per task, in insertion order
        self._attempts: dict[tuple[str, int], Attempt] = {}  # by (task_id, epoch)
        self._results: dict[str, TaskResult] = {}
        self._files: dict[str, dict[str, OutputFile]] = {}  # by task_id, then path
        self._cluster_id: str | None = None
        self._tokens: dict[str, ApiToken] = {}  # by token_id
        self._registrations: dict[str, Registration] = {}  # by token_hash (memory_admin.py)

    # users

    async def add_user(self, user: User) -> None:
        if user.user_id in self._users or any(u.email == user.email for u in self._users.values()):
            raise Conflict(f"user {user.user_id!r} or email {user.email!r} exists")
        self._users[user.user_id] = _copy(user)

    async def get_user(self, user_id: str) -> User | None:
        return _copy_opt(self._users.get(user_id))

    async def get_user_by_email(self, email: str) -> User | None:
        return _copy_opt(next((u for u in self._users.values() if u.email == email), None))

    async def set_password(self, user_id: str, password_hash: str) -> int | None:
        return self._bump(user_id, password_hash=password_hash)

    async def revoke_sessions(self, user_id: str) -> int | None:
        return self._bump(user_id)

    def _bump(self, user_id: str, **changes: Any) -> int | None:
        user = self._users.get(user_id)
        if user is None:
            return None
        generation = user.session_generation + 1
        self._users[user_id] = dataclasses.replace(user, session_generation=generation, **changes)
        return generation

    # personal API tokens

    async def add_api_token(self, token: ApiToken) -> None:
        taken = token.token_id in self._tokens or any(
            t.token_hash == token.token_hash for t in self._tokens.values()
        )
        if taken:
            raise Conflict(f"API token {token.token_id!r} exists")
        self._tokens[token.token_id] = _copy(token)

    async def get_api_token(self, token_hash: str) -> ApiToken | None:
        found = (t for t in self._tokens.values() if t.token_hash == token_hash)
        return _copy_opt(next(found, None))

    async def list_api_tokens(self, user_id: str) -> list[ApiToken]:
        mine = [t for t in self._tokens.values() if t.user_id == user_id]
        return [_copy(t) for t in sorted(mine, key=lambda t: (t.created_at, t.token_id))]

    async def delete_api_token(self, user_id: str, token_id: str) -> bool:
        token = self._tokens.get(token_id)
        if token is None or token.user_id != user_id:
            return False
        del self._tokens[token_id]
        return True

    async def touch_api_token(self, token_id: str, at: datetime) -> None:
        token = self._tokens.get(token_id)
        if token is not None:
            self._tokens[token_id] = dataclasses.replace(token, last_used_at=_utc(at))

    async def prune_api_tokens(self, expired_before: datetime) -> int:
        cutoff = _utc(expired_before)
        gone = [
            k for k, t in self._tokens.items() if t.expires_at is not None and t.expires_at < cutoff
        ]
        for key in gone:
            del self._tokens[key]
        return len(gone)

    # workers

    async def claim_cluster_id(self, candidate: str) -> str:
        if self._cluster_id is None:
            self._cluster_id = candidate
        return self._cluster_id

    async def upsert_worker(self, worker: Worker) -> None:
        self._workers[worker.worker_id] = _copy(worker)

    async def get_worker(self, worker_id: str) -> Worker | None:
        return _copy_opt(self._workers.get(worker_id))

    async def list_workers(self) -> list[Worker]:
        return [_copy(self._workers[k]) for k in sorted(self._workers)]

    # tasks

    async def add_task(self, task: Task, event: TaskEvent) -> None:
        if task.task_id in self._tasks:
            raise Conflict(f"task {task.task_id!r} exists")
        self._tasks[task.task_id] = _copy(task)
        self._append_event(event)

    def _append_event(self, event: TaskEvent) -> None:
        # Keyed by the event's own task_id, as the SQL store files its event rows.
        self._events.setdefault(event.task_id, []).append(_copy(event))

    async def get_task(self, task_id: str) -> Task | None:
        return _copy_opt(self._tasks.get(task_id))

    async def count_by_status(self) -> dict[TaskStatus, int]:
        found = Counter(t.status for t in self._tasks.values())
        return {status: found[status] for status in TaskStatus}

    async def count_tasks(
        self, *, user_id: str | None = None, statuses: Collection[TaskStatus] | None = None
    ) -> int:
        wanted = None if statuses is None else set(statuses)
        return sum(
            (user_id is None or t.user_id == user_id) and (wanted is None or t.status in wanted)
            for t in self._tasks.values()
        )

    async def list_tasks(
        self,
        *,
        user_id: str | None = None,
        statuses: Collection[TaskStatus] | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = False,
        worker_id: str | None = None,
        after: tuple[datetime, str] | None = None,
        tag: str | None = None,
        since: datetime | None = None,
        with_files: bool = False,
        id_prefix: str | None = None,
        search: str | None = None,
    ) -> list[Task]:
        bound = None if after is None else (_utc(after[0]), after[1])
        rows = [
            t
            for t in self._tasks.values()
            if (user_id is None or t.user_id == user_id)
            and (id_prefix is None or t.task_id.startswith(id_prefix))
            and (search is None or _mentions(t, search))
            and (worker_id is None or t.worker_id == worker_id)
            and (tag is None or t.tag == tag)
            and (not with_files or bool(self._files.get(t.task_id)))
            and (statuses is None or t.status in statuses)
            and (since is None or t.created_at >= _utc(since))
            and (
                bound is None
                or (
                    (t.created_at, t.task_id) < bound
                    if newest_first
                    else (t.created_at, t.task_id) > bound
                )
            )
        ]
        rows.sort(key=lambda t: (t.created_at, t.task_id), reverse=newest_first)
        return [_copy(t) for t in rows[offset : offset + limit]]

    async def list_finished(
        self, since: datetime, *, after: tuple[datetime, str] | None = None, limit: int = 1000
    ) -> list[Task]:
        rows = sorted(
            (
                (t.finished_at, t.task_id, t)
                for t in self._tasks.values()
                if t.finished_at is not None and t.finished_at >= _utc(since)
            ),
            key=lambda row: (row[0], row[1]),
        )
        if after is not None:
            rows = [r for r in rows if (r[0], r[1]) > (_utc(after[0]), after[1])]
        return [_copy(t) for _, _, t in rows[:limit]]

    async def save_task(
        self,
        task: Task,
        *,
        expected_status: TaskStatus,
        expected_epoch: int,
        events: Sequence[TaskEvent] = (),
        attempt: Attempt | None = None,
        result: TaskResult | None = None,
    ) -> bool:
        # No await from the check to the last write: the compare-and-set is atomic.
        stored = self._tasks.get(task.task_id)
        if stored is None or stored.status != expected_status or stored.epoch != expected_epoch:
            return False
        self._tasks[task.task_id] = _copy(task)
        for ev in events:
            self._append_event(ev)
        if attempt is not None:
            self._attempts[(attempt.task_id, attempt.epoch)] = _copy(attempt)
        if result is not None:
            self._results[result.task_id] = _copy(result)
        return True

    async def claim_task(
        self,
        task: Task,
        *,
        expected_epoch: int,
        capacity: Resources,
        events: Sequence[TaskEvent] = (),
        attempt: Attempt | None = None,
    ) -> Claim:
        if task.worker_id is None:
            raise ValueError("a claimed task names its worker")
        if task.worker_id not in self._workers:
            return Claim.NO_CAPACITY
        used = Resources()
        for held in self._tasks.values():
            if held.worker_id == task.worker_id and held.status in HOLDING:
                used = used + held.request
        if not (used + task.request).fits_in(capacity):
            return Claim.NO_CAPACITY
        saved = await self.save_task(
            task,
            expected_status=TaskStatus.QUEUED,
            expected_epoch=expected_epoch,
            events=events,
            attempt=attempt,
        )
        return Claim.CLAIMED if saved else Claim.TASK_CHANGED

    async def sla_counts(self) -> list[SlaCount]:
        counts: dict[tuple[str, str], list[int]] = {}
        for task in self._tasks.values():
            if task.sla_met is None:
                continue
            seen = counts.setdefault((task.task_type, task.scheduler), [0, 0])
            seen[0] += task.sla_met
            seen[1] += 1
        return [SlaCount(t, s, met, n) for (t, s), (met, n) in sorted(counts.items())]

    async def list_events(self, task_id: str) -> list[TaskEvent]:
        return [_copy(e) for e in self._events.get(task_id, [])]

    async def get_attempt(self, task_id: str, epoch: int) -> Attempt | None:
        return _copy_opt(self._attempts.get((task_id, epoch)))

    async def get_current(self, task_id: str) -> tuple[Task, Attempt | None] | None:
        task = self._tasks.get(task_id)
        if task is None:
            return None
        return _copy(task), _copy_opt(self._attempts.get((task_id, task.epoch)))

    async def list_attempts(self, task_id: str) -> list[Attempt]:
        keys = sorted(k for k in self._attempts if k[0] == task_id)
        return [_copy(self._attempts[k]) for k in keys]

    async def get_result(self, task_id: str) -> TaskResult | None:
        return _copy_opt(self._results.get(task_id))

    # output files

    async def replace_files(self, task_id: str, files: Sequence[OutputFile]) -> None:
        # Keyed by path: a path named twice is one file (the last entry wins).
        by_path = {f.path: _copy(f) for f in files}
        if by_path:
            self._files[task_id] = by_path
        else:
            self._files.pop(task_id, None)

    async def file_totals(self, task_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        return {
            task_id: (len(files), sum(f.size for f in files.values()))
            for task_id in task_ids
            if (files := self._files.get(task_id))
        }

    async def list_files(self, task_id: str) -> list[OutputFile]:
        by_path = self._files.get(task_id, {})
        return [_copy(by_path[p]) for p in sorted(by_path)]

    async def close(self) -> None:
        pass


if TYPE_CHECKING:
    # Makes mypy hold InMemoryStore to the port's exact signatures (structural typing
    # alone would only complain at some distant call site).
    _CONFORMS: type[Store] = InMemoryStore


def _mentions(task: Task, search: str) -> bool:
    """The task's id, name or image contains `search`, in any case."""
    folded = search.casefold()
    return any(folded in field.casefold() for field in (task.task_id, task.name, task.docker_image))
