"""--wait-for-master: a MasterRegister is accepted only while the worker waits, only
with the master's address and a token, and only for this worker's id; a worker that
joins with the join token refuses every MasterRegister."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from cloudai._proto import cluster_pb2 as pb
from cloudai.worker.grpc_service import WorkerService
from cloudai.worker.invitation import Invitation, Invited


async def test_an_invitation_is_accepted_once_while_waiting() -> None:
    invitation = Invitation("w1")
    assert invitation.offer("10.0.0.1:50051", "tok", "") == (
        False, "this worker is not waiting for a master (it is registered)",
    )  # fmt: skip
    waiter = asyncio.create_task(invitation.wait())
    await asyncio.wait_for(invitation.waiting.wait(), 5)
    assert invitation.offer("10.0.0.1:50051", "tok", "w2")[0] is False  # another id
    assert invitation.offer("", "tok", "")[0] is False
    assert invitation.offer("10.0.0.1:50051", "tok", "w1") == (True, "registering")
    assert await asyncio.wait_for(waiter, 5) == Invited("10.0.0.1:50051", "tok")
    assert not invitation.waiting.is_set()
    assert invitation.offer("10.0.0.9:50051", "other", "")[0] is False  # taken


async def test_the_servicer_answers_with_the_workers_id() -> None:
    invitation = Invitation("w1")
    waiter = asyncio.create_task(invitation.wait())
    await asyncio.wait_for(invitation.waiting.wait(), 5)
    service = WorkerService(cast(Any, None), lambda: "", 1.0, invitation)
    info = pb.MasterInfo(master_id="m", master_address="10.0.0.1:50051", registration_token="t")
    ack = await service.MasterRegister(info, cast(Any, None))
    assert (ack.success, ack.worker_id) == (True, "w1")
    await asyncio.wait_for(waiter, 5)


async def test_a_join_token_worker_refuses_master_register() -> None:
    service = WorkerService(cast(Any, None), lambda: "cred", 1.0)
    info = pb.MasterInfo(master_id="m", master_address="10.0.0.1:50051", registration_token="t")
    ack = await service.MasterRegister(info, cast(Any, None))
    assert ack.success is False and "join-token" in ack.message
