"""The external scheduling agent over real gRPC on loopback: the master's `MasterAgent`
service in front of a master core (SQLite store, fake clock, fake worker gateway), and
the example agent (`cloudai.agent`) driven one round at a time."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from pydantic import SecretStr

from cloudai._proto import agent_pb2 as pb
from cloudai._proto import agent_pb2_grpc as pb_grpc
from cloudai.agent.client import Agent, AgentClient
from cloudai.config import MasterSettings
from cloudai.domain.errors import Unauthorized
from cloudai.domain.resources import Resources
from cloudai.domain.task import TaskSpec, TaskStatus
from cloudai.domain.users import Role, User
from cloudai.master.agent_service import MasterAgentService
from cloudai.master.app import MasterApp, master_secrets
from cloudai.master.core import CoreOptions, MasterCore, build_core
from cloudai.master.gateway import FakeWorkerGateway
from cloudai.ports import FakeClock
from cloudai.rpc.agent_convert import AGENT_TOKEN_HEADER
from cloudai.scheduling.registry import make_scheduler
from cloudai.scheduling.snapshot import Placement
from cloudai.store.sql import open_store

TOKEN = "agent-test-token"
TIMEOUT_S = 5.0
SMALL = Resources(cpu=1, memory_gb=0.5, storage_gb=1)
BIG = Resources(cpu=4, memory_gb=8, storage_gb=10)
ALICE = User("u-alice", "a@x.test", "alice", "h", Role.USER, FakeClock().now())


@dataclass
class Master:
    core: MasterCore
    clock: FakeClock
    gateway: FakeWorkerGateway
    address: str

    async def submit(self, request: Resources = SMALL, **spec: Any) -> str:
        self.clock.advance(0.001)
        task_spec = TaskSpec("img", "true", request, **spec)
        return (await self.core.tasks.submit(ALICE, task_spec)).task.task_id

    async def status(self, task_id: str) -> TaskStatus:
        return (await self.core.tasks.get(ALICE, task_id)).status

    async def placed_by(self, task_id: str) -> str:
        """The policy (or agent) that placed the task's current attempt."""
        return (await self.core.tasks.get(ALICE, task_id)).scheduler

    async def builtin_pass(self) -> list[Placement]:
        placed = await self.core.dispatcher.schedule_once()
        await self.core.applier.settle()
        return placed

    def sent(self) -> set[tuple[str, str]]:
        """(worker, task) of every assignment handed to a worker."""
        return {(worker, task) for worker, task, _ in self.gateway.assigned}


@pytest.fixture
async def master(tmp_path: Path) -> AsyncIterator[Master]:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    clock, gateway = FakeClock(), FakeWorkerGateway()
    options = CoreOptions(
        tmp_path, jwt_secret="s" * 32, scheduler="agent", agent_timeout_s=TIMEOUT_S
    )
    core = build_core(store, clock, gateway, options)
    server = grpc.aio.server()
    pb_grpc.add_MasterAgentServicer_to_server(
        MasterAgentService(TOKEN, core.agent, core.dispatcher, core.applier, core.registry),
        server,
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield Master(core, clock, gateway, f"127.0.0.1:{port}")
    finally:
        await server.stop(None)
        await core.applier.close()
        await store.close()


@pytest.fixture
async def client(master: Master) -> AsyncIterator[AgentClient]:
    connected = AgentClient(master.address, TOKEN)
    yield connected
    await connected.close()


async def two_workers(master: Master) -> None:
    await master.core.registry.register("small", "127.0.0.1:1", Resources(2, 2, 10))
    await master.core.registry.register("large", "127.0.0.1:2", Resources(8, 16, 100))


async def test_the_master_places_exactly_what_the_agent_submits(
    master: Master, client: AgentClient
) -> None:
    await two_workers(master)
    tasks = [await master.submit(), await master.submit(BIG), await master.submit()]
    # The agent plans on the snapshot the master's own policies see.
    expected = make_scheduler("best_fit").plan(await master.core.dispatcher.snapshot())
    assert len(expected.placements) == 3
    round_ = await Agent(client, "best_fit").run_once()
    await master.core.applier.settle()
    assert round_.placed == expected.placements and round_.refused == []
    assert master.sent() == {(p.worker_id, p.task_id) for p in round_.placed}
    for task_id in tasks:
        assert await master.status(task_id) is TaskStatus.ASSIGNED
        assert await master.placed_by(task_id) == "agent"
    # While the agent is in charge, the built-in pass places nothing, even what waits.
    waiting = await master.submit()
    assert await master.builtin_pass() == []
    assert await master.status(waiting) is TaskStatus.QUEUED
    assert len(master.gateway.assigned) == 3


async def test_bad_placements_are_refused_with_their_reasons(
    master: Master, client: AgentClient
) -> None:
    await two_workers(master)
    taken, too_big, fine = await master.submit(), await master.submit(BIG), await master.submit()
    first = await client.submit([Placement(taken, "large")])
    assert first.success and [r.accepted for r in first.results] == [True]
    ack = await client.submit(
        [
            Placement(taken, "small"),  # already placed
            Placement(too_big, "small"),  # the worker is too small
            Placement(fine, "nowhere"),  # no such worker
            Placement("", "small"),  # incomplete
            Placement(fine, "small"),  # good
        ]
    )
    assert not ack.success and ack.message == "1 of 5 accepted, 4 refused"
    results = [(r.task_id, r.worker_id, r.accepted, r.reason) for r in ack.results]
    assert results == [
        (taken, "small", False, f"task {taken} is assigned, not queued"),
        (too_big, "small", False, f"worker small has no room for task {too_big} now"),
        (fine, "nowhere", False, "worker nowhere is not registered"),
        ("", "small", False, "an assignment needs both task_id and worker_id"),
        (fine, "small", True, ""),
    ]
    await master.core.applier.settle()
    assert master.sent() == {("large", taken), ("small", fine)}
    assert await master.status(too_big) is TaskStatus.QUEUED


class RacingClient(AgentClient):
    """Another applier places a task between this agent's fetch and its submit."""

    def __init__(self, address: str, token: str, meanwhile: Callable[[], Awaitable[None]]) -> None:
        super().__init__(address, token)
        self._meanwhile = meanwhile

    async def fetch_state(self) -> pb.ClusterState:
        state = await super().fetch_state()
        await self._meanwhile()
        return state


async def test_the_agent_reports_what_another_applier_took_first(master: Master) -> None:
    await master.core.registry.register("only", "127.0.0.1:1", Resources(1, 1, 10))
    task_id = await master.submit()

    async def other_applier() -> None:
        [applied] = await master.core.applier.apply([Placement(task_id, "only")], by="other")
        assert applied.placed

    racing = RacingClient(master.address, TOKEN, other_applier)
    try:
        round_ = await Agent(racing, "best_fit").run_once()
    finally:
        await racing.close()
    assert round_.placed == []
    assert round_.refused == [
        (Placement(task_id, "only"), f"task {task_id} is assigned, not queued")
    ]
    await master.core.applier.settle()
    assert len(master.gateway.assigned) == 1  # never twice on one worker
    assert await master.placed_by(task_id) == "other"


@pytest.mark.parametrize("token", ["wrong-token", ""])
async def test_a_wrong_or_missing_token_is_refused(master: Master, token: str) -> None:
    await two_workers(master)
    task_id = await master.submit()
    intruder = AgentClient(master.address, token)
    try:
        with pytest.raises(Unauthorized, match="agent token"):
            await intruder.fetch_state()
        with pytest.raises(Unauthorized, match="agent token"):
            await intruder.submit([Placement(task_id, "large")])
    finally:
        await intruder.close()
    assert await master.status(task_id) is TaskStatus.QUEUED
    assert not master.core.agent.active()  # refused calls are no contact
    # ...so the built-in policy places, as with no agent at all.
    assert [p.task_id for p in await master.builtin_pass()] == [task_id]


async def test_no_metadata_at_all_is_refused(master: Master) -> None:
    async with grpc.aio.insecure_channel(master.address) as channel:
        stub = pb_grpc.MasterAgentStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.FetchClusterState(pb.Empty())
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        other = await stub.FetchClusterState(pb.Empty(), metadata=((AGENT_TOKEN_HEADER, TOKEN),))
        assert list(other.pending_tasks) == []


async def test_a_silent_agent_hands_placement_back_to_the_builtin_policy(
    master: Master, client: AgentClient
) -> None:
    await two_workers(master)
    first = await master.submit()
    await Agent(client, "best_fit").run_once()
    queued = [await master.submit(), await master.submit(BIG)]
    master.clock.advance(TIMEOUT_S / 2)
    assert await master.builtin_pass() == []  # heard from recently: still in charge
    master.clock.advance(TIMEOUT_S / 2)  # silent for the whole timeout
    placed = await master.builtin_pass()
    assert sorted(p.task_id for p in placed) == sorted(queued)
    for task_id in queued:
        assert await master.status(task_id) is TaskStatus.ASSIGNED
        assert await master.placed_by(task_id) == "best_fit"  # the fallback, recorded
    assert await master.placed_by(first) == "agent"
    # The agent speaks again: the master stands back once more.
    later = await master.submit()
    round_ = await Agent(client, "best_fit").run_once()
    assert [p.task_id for p in round_.placed] == [later]
    assert await master.builtin_pass() == []


async def test_the_state_lists_every_worker_and_the_queue_in_submit_order(
    master: Master, client: AgentClient
) -> None:
    await two_workers(master)
    master.core.registry.mark_suspect("small", "test")
    tasks = [await master.submit(priority=-1), await master.submit(BIG), await master.submit()]
    state = await client.fetch_state()
    workers = {w.worker_id: (w.status, w.schedulable, w.total_cpu) for w in state.workers}
    assert workers == {"small": ("suspect", False, 2.0), "large": ("active", True, 8.0)}
    assert [t.task_id for t in state.pending_tasks] == tasks
    assert [t.priority for t in state.pending_tasks] == [-1, 0, 0]
    assert {t.user_id for t in state.pending_tasks} == {ALICE.user_id}
    assert state.now == master.clock.now().timestamp()


class CountingClient(AgentClient):
    """Asks the loop to stop once it has fetched the state `rounds` times."""

    def __init__(self, address: str, token: str, rounds: int, stop: asyncio.Event) -> None:
        super().__init__(address, token)
        self.fetched = 0
        self._rounds, self._stop = rounds, stop

    async def fetch_state(self) -> pb.ClusterState:
        self.fetched += 1
        if self.fetched == self._rounds:
            self._stop.set()
        return await super().fetch_state()


async def test_the_loop_places_round_after_round_until_stopped(master: Master) -> None:
    await two_workers(master)
    tasks = [await master.submit(), await master.submit()]
    stop = asyncio.Event()
    looping = CountingClient(master.address, TOKEN, 2, stop)
    try:
        await Agent(looping, "spread").run(0.01, stop)
    finally:
        await looping.close()
    assert looping.fetched == 2
    assert [await master.placed_by(t) for t in tasks] == ["agent", "agent"]


async def test_the_loop_ends_on_a_refused_token(master: Master) -> None:
    refused = AgentClient(master.address, "wrong-token")
    try:
        with pytest.raises(Unauthorized):
            await Agent(refused).run(0.01, asyncio.Event())
    finally:
        await refused.close()


async def test_the_master_serves_agents_behind_a_kept_token(tmp_path: Path) -> None:
    settings = MasterSettings(
        data_dir=tmp_path / "master", http_port=0, grpc_port=0, scheduler="agent"
    )
    app = MasterApp(settings)
    await app.start()
    try:
        kept = tmp_path / "master" / "secrets" / "agent-token"
        assert kept.read_text().strip() == app.secrets.agent_token
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        connected = AgentClient(f"127.0.0.1:{app.grpc_port}", app.secrets.agent_token)
        try:
            state = await connected.fetch_state()
        finally:
            await connected.close()
        assert list(state.workers) == [] and list(state.pending_tasks) == []
        assert app.core is not None and app.core.agent.active()
    finally:
        await app.stop()
    # A configured token wins over the kept one.
    given = MasterSettings(data_dir=tmp_path / "master", agent_token=SecretStr("mine"))
    assert master_secrets(given).agent_token == "mine"
