"""The real Inviter: the master's MasterRegister call to a worker waiting for one."""

from __future__ import annotations

import grpc

from cloudai._proto import cluster_pb2 as pb
from cloudai._proto import cluster_pb2_grpc as pb_grpc
from cloudai.domain.errors import Conflict
from cloudai.master.registration import Invite
from cloudai.rpc.errors import call


class GrpcInviter:
    def __init__(self, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s

    async def invite(self, address: str, invite: Invite) -> str:
        """One short-lived channel: invitations are rare, and the address is not yet
        a worker's."""
        message = pb.MasterInfo(
            master_id=invite.master_id,
            master_address=invite.master_address,
            registration_token=invite.token,
            worker_id=invite.worker_id or "",
        )
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.MasterWorkerStub(channel)
            ack = await call(stub.MasterRegister(message, timeout=self._timeout_s))
        if not ack.success:
            raise Conflict(f"the worker at {address} refused: {ack.message or 'no reason given'}")
        if not ack.worker_id:
            raise Conflict(f"the worker at {address} did not say its id (an older worker?)")
        worker_id: str = ack.worker_id
        return worker_id
