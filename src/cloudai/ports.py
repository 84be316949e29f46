"""The seams between the core and the outside world (store, clock).

Every port has a real implementation and a fake that ships in the package, so that
services are tested without sockets and one contract suite covers both.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from cloudai.domain.registrations import Registration
from cloudai.domain.resources import Resources
from cloudai.domain.task import Attempt, OutputFile, Task, TaskEvent, TaskResult, TaskStatus
from cloudai.domain.users import ApiToken, Role, User
from cloudai.domain.workers import Worker


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


class Claim(StrEnum):
    """How a placement's claim on a worker ended (`Store.claim_task`)."""

    CLAIMED = "claimed"
    TASK_CHANGED = "task_changed"  # no longer queued at that epoch: cancelled or placed
    NO_CAPACITY = "no_capacity"  # the worker is full (or gone) by now


@dataclass(frozen=True, slots=True)
class SlaCount:
    """Finished tasks with an SLA verdict, by task type and the policy that placed them."""

    task_type: str
    scheduler: str
    met: int
    total: int


class Store(Protocol):
    """Persistence of every durable fact. The database is the source of truth.

    Datetimes go in and come out timezone-aware (UTC). Missing objects answer None
    (or an empty list); duplicate keys raise `Conflict`.
    """

    # users
    async def add_user(self, user: User) -> None: ...

    async def get_user(self, user_id: str) -> User | None: ...

    async def get_user_by_email(self, email: str) -> User | None: ...

    async def set_password(self, user_id: str, password_hash: str) -> int | None:
        """Replace the user's password hash and bump their session generation in one
        write; the new generation (None: no such user)."""
        ...

    async def revoke_sessions(self, user_id: str) -> int | None:
        """Bump the user's session generation, revoking every login session issued
        before; the new generation (None: no such user)."""
        ...

    # personal API tokens (`ApiToken`; looked up by the secret's hash)
    async def add_api_token(self, token: ApiToken) -> None: ...

    async def get_api_token(self, token_hash: str) -> ApiToken | None: ...

    async def list_api_tokens(self, user_id: str) -> list[ApiToken]:
        """The user's tokens, oldest first (created_at, then token_id)."""
        ...

    async def delete_api_token(self, user_id: str, token_id: str) -> bool:
        """False when the user has no such token (another user's counts as none)."""
        ...

    async def touch_api_token(self, token_id: str, at: datetime) -> None:
        """Record a use: last_used_at = `at` (a no-op for a deleted token)."""
        ...

    async def prune_api_tokens(self, expired_before: datetime) -> int:
        """Delete the tokens that expired before `expired_before`; how many went."""
        ...

    # administration of users (see also `revoke_sessions`)
    async def list_users(self) -> list[User]:
        """Every user, oldest first (created_at, then user_id)."""
        ...

    async def set_user_flags(
        self, user_id: str, *, role: Role | None = None, disabled: bool | None = None
    ) -> User | None:
        """Set the role and/or the disabled flag (None: unchanged); the user as now
        stored (None: no such user)."""
        ...

    async def delete_api_tokens(self, user_id: str) -> int:
        """Delete every API token of the user; how many went."""
        ...

    # workers' pre-registrations (`Registration`; looked up by the token's hash)
    async def add_registration(self, registration: Registration) -> None: ...

    async def redeem_registration(
        self, token_hash: str, worker_id: str, at: datetime
    ) -> Registration | None:
        """Use the registration once: only if it is `usable_by(worker_id, at)`, mark it
        used (at, by) in one atomic step and return it as now stored; else None."""
        ...

    async def list_registrations(self) -> list[Registration]:
        """Every registration kept, oldest first (created_at, then token_hash)."""
        ...

    async def prune_registrations(self, expired_before: datetime) -> int:
        """Delete the registrations that expired before `expired_before`, used or not."""
        ...

    # the cluster
    async def claim_cluster_id(self, candidate: str) -> str:
        """The id of the cluster this database belongs to: the stored one, or
        `candidate`, stored now when there is none (the first master to ask wins)."""
        ...

    # workers
    async def upsert_worker(self, worker: Worker) -> None: ...

    async def get_worker(self, worker_id: str) -> Worker | None: ...

    async def list_workers(self) -> list[Worker]: ...

    async def delete_worker(self, worker_id: str) -> bool:
        """Forget the worker's row; False when there was none."""
        ...

    # tasks
    async def add_task(self, task: Task, event: TaskEvent) -> None: ...

    async def get_task(self, task_id: str) -> Task | None: ...

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
        """Oldest first by default (the queue order: created_at, then task_id);
        newest first for listings shown to people. `after` is a (created_at, task_id)
        key: only rows after it in the chosen order, for paging a changing set.
        `since`: created at or after it. `with_files`: only tasks with stored outputs.
        `id_prefix`: only ids that start with it (case-sensitive, `%` and `_` literal).
        `search`: only tasks whose id, name or image contains it (any case, literal)."""
        ...

    async def count_tasks(
        self, *, user_id: str | None = None, statuses: Collection[TaskStatus] | None = None
    ) -> int: ...

    async def count_by_status(self) -> dict[TaskStatus, int]:
        """How many tasks are in each status (every status, zero included): one read."""
        ...

    async def list_finished(
        self, since: datetime, *, after: tuple[datetime, str] | None = None, limit: int = 1000
    ) -> list[Task]:
        """Tasks that ended at or after `since`, by (finished_at, task_id); `after`
        pages on that key."""
        ...

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
        """Compare-and-set: write `task` only if the stored row still has
        (expected_status, expected_epoch); in the same transaction append `events`,
        upsert `attempt` (key task_id+epoch) and upsert `result` (key task_id).
        Returns False, writing nothing, when the row changed underneath."""
        ...

    async def claim_task(
        self,
        task: Task,
        *,
        expected_epoch: int,
        capacity: Resources,
        events: Sequence[TaskEvent] = (),
        attempt: Attempt | None = None,
    ) -> Claim:
        """Place `task` (its new row names the worker) only if the stored row is still
        queued at `expected_epoch` AND what the worker's holding tasks ask plus this
        task's request fits in `capacity` — checked and written in one transaction,
        serialised per worker, so concurrent appliers can never overbook a worker."""
        ...

    async def sla_counts(self) -> list[SlaCount]:
        """Per (task type, scheduler): tasks that met their deadline, of those judged."""
        ...

    async def list_events(self, task_id: str) -> list[TaskEvent]: ...

    async def get_attempt(self, task_id: str, epoch: int) -> Attempt | None: ...

    async def get_current(self, task_id: str) -> tuple[Task, Attempt | None] | None:
        """The task and the attempt of its current epoch (None if it has none), read
        in one snapshot: a concurrent commit is seen whole or not at all."""
        ...

    async def list_attempts(self, task_id: str) -> list[Attempt]: ...

    async def get_result(self, task_id: str) -> TaskResult | None: ...

    async def delete_task(self, task_id: str) -> bool:
        """Delete the task with its events, attempts, result and file rows, in one
        transaction; False when there was no such task."""
        ...

    # output files
    async def replace_files(self, task_id: str, files: Sequence[OutputFile]) -> None:
        """Set the task's file list to exactly `files` (idempotent re-upload)."""
        ...

    async def list_files(self, task_id: str) -> list[OutputFile]: ...

    async def file_totals(self, task_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(number of files, total bytes) per task of `task_ids` that has any."""
        ...

    async def close(self) -> None: ...
