"""The master's `MasterAgent` face: a thin adapter for external scheduling agents.

Every call must carry the agent token (`x-cloudai-agent-token` metadata) and counts as
contact (`AgentLink.heard`): while the agent keeps calling, the `agent` scheduler leaves
placement to it. FetchClusterState answers the snapshot the built-in policies see;
SubmitAssignments hands the placements to the one plan applier, which re-checks each
(worker registered and open, task still queued, room now) and says why it refused one.
"""

from __future__ import annotations

import logging

from cloudai._proto import agent_pb2 as pb
from cloudai._proto import agent_pb2_grpc as pb_grpc
from cloudai.domain.errors import Unauthorized
from cloudai.domain.workers import Eligibility, Worker
from cloudai.master.agent import AgentLink
from cloudai.master.applier import PlanApplier
from cloudai.master.dispatcher import AGENT, Dispatcher
from cloudai.master.registry import WorkerRegistry
from cloudai.rpc import agent_convert as convert
from cloudai.rpc.credentials import same_secret
from cloudai.rpc.errors import abort_with
from cloudai.rpc.servicers import Context, metadata
from cloudai.scheduling.snapshot import Placement

logger = logging.getLogger(__name__)


class MasterAgentService(pb_grpc.MasterAgentServicer):
    def __init__(
        self,
        agent_token: str,
        agent: AgentLink,
        dispatcher: Dispatcher,
        applier: PlanApplier,
        registry: WorkerRegistry,
    ) -> None:
        self._token = agent_token
        self._agent = agent
        self._dispatcher = dispatcher
        self._applier = applier
        self._registry = registry

    async def _authenticate(self, context: Context) -> None:
        given = metadata(context).get(convert.AGENT_TOKEN_HEADER, "")
        if not given or not same_secret(given, self._token):
            await abort_with(context, Unauthorized("missing or invalid agent token"))
        self._agent.heard()

    async def FetchClusterState(self, request: pb.Empty, context: Context) -> pb.ClusterState:
        await self._authenticate(context)
        snapshot = await self._dispatcher.snapshot()
        statuses = {w.worker_id: _state(w) for w in self._registry.all()}
        return convert.cluster_state_to_proto(snapshot, statuses)

    async def SubmitAssignments(self, request: pb.TaskAssignments, context: Context) -> pb.AgentAck:
        await self._authenticate(context)
        placements = convert.placements_from_proto(request)
        results = await self._apply(placements)
        for placement, accepted, reason in results:
            if not accepted:
                logger.info(
                    "agent placement refused: %s",
                    reason,
                    extra={"task_id": placement.task_id, "worker_id": placement.worker_id},
                )
        if any(accepted for _, accepted, _ in results):
            self._dispatcher.wake()  # refresh queue positions and reasons
        return convert.ack_to_proto(results)

    async def _apply(self, placements: list[Placement]) -> list[tuple[Placement, bool, str]]:
        """(placement, accepted, why refused) for each, in order."""
        complete = [p for p in placements if p.task_id and p.worker_id]
        applied = iter(await self._applier.apply(complete, by=AGENT))
        results = []
        for placement in placements:
            if placement.task_id and placement.worker_id:
                answer = next(applied)
                results.append((placement, answer.placed, answer.reason))
            else:
                results.append((placement, False, _MISSING))
        return results


_MISSING = "an assignment needs both task_id and worker_id"


def _state(worker: Worker) -> str:
    """The worker's state in words: an operator's hold wins over liveness."""
    if worker.eligibility is not Eligibility.OPEN:
        return worker.eligibility.value
    return worker.status.value
