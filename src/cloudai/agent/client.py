"""The example agent: fetch the cluster state, plan with a pure policy, submit.

`Agent.run_once` is one round (tests drive it); `Agent.run` repeats it every interval
until asked to stop. The master keeps the agent in charge only while it keeps calling,
so a round fetches the state even when there is nothing to place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc

from cloudai._proto import agent_pb2 as pb
from cloudai._proto import agent_pb2_grpc as pb_grpc
from cloudai.domain.errors import CloudAIError, Unauthorized
from cloudai.rpc import agent_convert as convert
from cloudai.rpc.errors import call
from cloudai.scheduling.registry import make_scheduler
from cloudai.scheduling.snapshot import Placement

logger = logging.getLogger(__name__)

_TIMEOUT_S = 10.0
# The whole queue comes in one answer; the master sends at most 8 MiB today.
_MAX_RECEIVE = 64 * 1024 * 1024


class AgentClient:
    """One channel to the master's MasterAgent service, the agent token on every call.
    Errors arrive as the domain's (`Unauthorized`, `Unavailable`, ...)."""

    def __init__(self, address: str, token: str, *, timeout_s: float = _TIMEOUT_S) -> None:
        self._channel = grpc.aio.insecure_channel(
            address, options=[("grpc.max_receive_message_length", _MAX_RECEIVE)]
        )
        self._stub = pb_grpc.MasterAgentStub(self._channel)
        self._metadata = ((convert.AGENT_TOKEN_HEADER, token),)
        self._timeout_s = timeout_s

    async def fetch_state(self) -> pb.ClusterState:
        state: pb.ClusterState = await call(
            self._stub.FetchClusterState(
                pb.Empty(), metadata=self._metadata, timeout=self._timeout_s
            )
        )
        return state

    async def submit(self, placements: Sequence[Placement]) -> pb.AgentAck:
        ack: pb.AgentAck = await call(
            self._stub.SubmitAssignments(
                convert.assignments_to_proto(placements),
                metadata=self._metadata,
                timeout=self._timeout_s,
            )
        )
        return ack

    async def close(self) -> None:
        await self._channel.close()


@dataclass(frozen=True, slots=True)
class Round:
    """What one round proposed and what the master made of it."""

    queued: int
    placed: list[Placement] = field(default_factory=list)
    refused: list[tuple[Placement, str]] = field(default_factory=list)


class Agent:
    def __init__(self, client: AgentClient, policy: str = "best_fit") -> None:
        self._client = client
        self._scheduler = make_scheduler(policy)  # ValueError names the known ones
        self._cursor = 0  # round-robin position, this agent's own

    @property
    def policy(self) -> str:
        return self._scheduler.name

    async def run_once(self) -> Round:
        """Fetch the state, plan, submit the placements; log the refused ones."""
        state = await self._client.fetch_state()
        plan = self._scheduler.plan(convert.snapshot_from_proto(state, cursor=self._cursor))
        self._cursor = plan.cursor
        if not plan.placements:
            return Round(len(state.pending_tasks))
        ack = await self._client.submit(plan.placements)
        answered = {(r.task_id, r.worker_id): r for r in ack.results}
        placed, refused = [], []
        for placement in plan.placements:
            result = answered.get((placement.task_id, placement.worker_id))
            if result is not None and result.accepted:
                placed.append(placement)
            else:
                reason = result.reason if result is not None else ack.message
                refused.append((placement, reason))
                logger.warning(
                    "placement refused: %s",
                    reason,
                    extra={"task_id": placement.task_id, "worker_id": placement.worker_id},
                )
        if placed:
            logger.info("placed %d of %d queued tasks", len(placed), len(state.pending_tasks))
        return Round(len(state.pending_tasks), placed, refused)

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        """A round every `interval_s` until `stop` is set. An unreachable master is
        retried (it may be restarting; said once, not every round); a refused token
        ends the loop (`Unauthorized`)."""
        unreachable = False
        while not stop.is_set():
            try:
                await self.run_once()
            except Unauthorized:
                raise
            except CloudAIError as exc:
                level = logging.DEBUG if unreachable else logging.WARNING
                logger.log(level, "master not answering (%s); trying again", exc)
                unreachable = True
            else:
                if unreachable:
                    logger.info("master answering again")
                unreachable = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
