"""The one plan applier: every placement, whoever proposed it (a built-in policy or an
external agent), is claimed here and then handed to its worker.

A claim re-checks, in one transaction serialised per worker, that the task is still
queued AND that the worker still has the capacity (`Store.claim_task`): two appliers —
two masters on one PostgreSQL, or the built-in scheduler and an agent — can never
overbook a worker. Claims are quick database writes; the assignments then go out in
the background, one call at a time per worker (carrying every assignment queued for it
meanwhile, up to `_BATCH`) and at most `max_parallel` calls at once, so one slow or
dead worker never stalls the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from cloudai.domain import lifecycle as rules
from cloudai.domain.errors import CloudAIError, NotFound, Unavailable
from cloudai.domain.task import Task
from cloudai.domain.workers import Worker
from cloudai.master.gateway import WorkerGateway
from cloudai.master.lifecycle import Lifecycle
from cloudai.master.registry import WorkerRegistry
from cloudai.master.snapshot import schedulable
from cloudai.master.transitions import TaskWriter
from cloudai.ports import Claim, Clock, Store
from cloudai.scheduling.snapshot import Placement

logger = logging.getLogger(__name__)

# The most assignments one call to a worker carries: a pass that places many on one
# worker costs a few calls, not one each.
_BATCH = 64


@dataclass(frozen=True, slots=True)
class Applied:
    placement: Placement
    placed: bool
    reason: str = ""  # why it was refused


class PlanApplier:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        registry: WorkerRegistry,
        writer: TaskWriter,
        gateway: WorkerGateway,
        lifecycle: Lifecycle,
        *,
        max_parallel: int = 64,
    ) -> None:
        self._store = store
        self._clock = clock
        self._registry = registry
        self._writer = writer
        self._gateway = gateway
        self._lifecycle = lifecycle
        self._slots = asyncio.Semaphore(max_parallel)
        self._outbox: dict[str, deque[Task]] = {}
        self._senders: dict[str, asyncio.Task[None]] = {}

    async def apply(self, placements: Sequence[Placement], *, by: str) -> list[Applied]:
        """Claim each placement (`by`: the policy or agent that proposed it), queue the
        claimed ones for sending, in the given order; never waits for a worker to answer.

        The claims run side by side: the store commits those that reach it together in
        one transaction (each still re-checks its worker's room)."""
        claims = await asyncio.gather(
            *(self._claim(p, by) for p in placements), return_exceptions=True
        )
        applied, failure = [], None
        for placement, claimed in zip(placements, claims, strict=True):
            if isinstance(claimed, _Refused):
                applied.append(Applied(placement, False, str(claimed)))
            elif isinstance(claimed, BaseException):
                failure = failure or claimed  # raised once the claimed ones are queued
            else:
                applied.append(Applied(placement, True))
                self._enqueue(*claimed)
        if failure is not None:
            raise failure
        return applied

    async def _claim(self, placement: Placement, by: str) -> tuple[Worker, Task]:
        worker = self._registry.get(placement.worker_id)
        if worker is None:
            raise _Refused(f"worker {placement.worker_id} is not registered")
        if not schedulable(worker):
            raise _Refused(f"worker {worker.worker_id} takes no new work ({_state(worker)})")
        try:
            task = await self._writer.queued(placement.task_id)
        except NotFound as exc:
            raise _Refused(str(exc)) from exc
        if task.target_worker_id and task.target_worker_id != worker.worker_id:
            raise _Refused(f"task {task.task_id} may only run on {task.target_worker_id}")
        transition = rules.place(task, worker_id=worker.worker_id, at=self._clock.now(), by=by)
        if transition is None:
            raise _Refused(f"task {task.task_id} is {task.status}, not queued")
        claim = await self._store.claim_task(
            transition.task,
            expected_epoch=task.epoch,
            capacity=worker.total,
            events=transition.events,
            attempt=transition.attempt,
        )
        if claim is Claim.NO_CAPACITY:
            raise _Refused(f"worker {worker.worker_id} has no room for task {task.task_id} now")
        if claim is Claim.TASK_CHANGED:
            raise _Refused(f"task {task.task_id} changed meanwhile (cancelled or placed)")
        await self._writer.committed(task, transition)
        return worker, transition.task

    def _enqueue(self, worker: Worker, task: Task) -> None:
        self._outbox.setdefault(worker.worker_id, deque()).append(task)
        sender = self._senders.get(worker.worker_id)
        if sender is None or sender.done():
            self._senders[worker.worker_id] = asyncio.create_task(
                self._send_all(worker), name=f"assign-{worker.worker_id}"
            )

    async def _send_all(self, worker: Worker) -> None:
        """Send the worker's outbox, what queued meanwhile in one call (at most
        `_BATCH`), until it is empty."""
        outbox = self._outbox[worker.worker_id]
        while outbox:
            batch = [outbox.popleft() for _ in range(min(len(outbox), _BATCH))]
            try:
                async with self._slots:
                    refusals = await self._gateway.assign(worker, batch)
            except Unavailable as exc:
                # Unreachable: suspect at once, and nothing else waits on it.
                self._registry.mark_suspect(worker.worker_id, str(exc))
                await self._refuse([*batch, *outbox], worker, str(exc))
                outbox.clear()
                continue
            except CloudAIError as exc:
                refusals = [str(exc)] * len(batch)
            except Exception:  # a bug must not leave the attempts claimed forever
                logger.exception("assignment failed", extra={"task_id": batch[0].task_id})
                refusals = ["assignment failed"] * len(batch)
            for task, why in zip(batch, refusals, strict=True):
                if why is not None:
                    await self._refuse([task], worker, why)

    async def _refuse(self, tasks: list[Task], worker: Worker, why: str) -> None:
        for task in tasks:
            logger.warning("assignment refused: %s", why, extra={"task_id": task.task_id})
            await self._lifecycle.refused(task.task_id, task.epoch, worker.worker_id, why)

    async def settle(self) -> None:
        """Wait until every assignment queued so far has been sent (or refused)."""
        while any(not sender.done() for sender in self._senders.values()):
            await asyncio.gather(*self._senders.values(), return_exceptions=True)

    async def close(self) -> None:
        senders = list(self._senders.values())
        for sender in senders:
            sender.cancel()
        await asyncio.gather(*senders, return_exceptions=True)


class _Refused(Exception):
    pass


def _state(worker: Worker) -> str:
    return worker.eligibility.value if worker.eligibility.value != "open" else worker.status.value
