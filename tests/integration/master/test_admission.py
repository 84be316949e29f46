"""Submit refuses what must never reach a worker's Docker daemon (an image outside the
reference grammar, a registry on a private address unless allowed, one off the
allow-list), and a user over the queued-task cap (429); admins are exempt from the cap.
A running-task cap leaves tasks queued with the reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloudai.domain.errors import InvalidRequest, TooManyRequests
from cloudai.domain.images import RegistryPolicy
from cloudai.domain.resources import Resources
from cloudai.domain.task import TaskSpec, TaskStatus
from cloudai.domain.users import Role, User
from cloudai.master.admission import AdmissionRules
from cloudai.master.core import CoreOptions, MasterCore, build_core
from cloudai.master.gateway import FakeWorkerGateway
from cloudai.ports import FakeClock
from cloudai.store.memory import InMemoryStore

ALICE = User("u-alice", "a@x.test", "alice", "h", Role.USER, FakeClock().now())
BOB = User("u-bob", "b@x.test", "bob", "h", Role.USER, FakeClock().now())
ADMIN = User("u-admin", "root@x.test", "root", "h", Role.ADMIN, FakeClock().now())
SMALL = Resources(cpu=1, memory_gb=0.5, storage_gb=1)


def core(tmp_path: Path, **options: object) -> MasterCore:
    return build_core(
        InMemoryStore(), FakeClock(), FakeWorkerGateway(),
        CoreOptions(tmp_path, jwt_secret="s" * 32, **options),  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture
async def master(tmp_path: Path) -> AsyncIterator[MasterCore]:
    yield core(tmp_path)


async def submit(master: MasterCore, image: str, user: User = ALICE) -> str:
    assert isinstance(master.clock, FakeClock)
    master.clock.advance(0.001)  # submit order is queue order
    submitted = await master.tasks.submit(user, TaskSpec(image, "true", SMALL))
    return submitted.task.task_id


@pytest.mark.parametrize(
    "image", ["../../containers/victim", "127.0.0.1:5000/x", "localhost/x", "10.0.0.8/x", "a b"]
)
async def test_bad_images_are_refused_at_submit_and_nothing_is_queued(
    master: MasterCore, image: str
) -> None:
    with pytest.raises(InvalidRequest, match="image"):
        await submit(master, image)
    assert await master.store.count_tasks() == 0


async def test_an_unresolvable_registry_host_is_refused(master: MasterCore) -> None:
    with pytest.raises(InvalidRequest, match="cannot be resolved from the master"):
        await submit(master, "registry.invalid/x")


async def test_private_registries_when_allowed_and_the_allow_list(tmp_path: Path) -> None:
    private = core(tmp_path, admission=AdmissionRules(RegistryPolicy(private_allowed=True)))
    await submit(private, "127.0.0.1:5000/x")
    listed = core(tmp_path, admission=AdmissionRules(RegistryPolicy(frozenset({"docker.io"}))))
    await submit(listed, "busybox:latest")
    with pytest.raises(InvalidRequest, match="not allowed here"):
        await submit(listed, "ghcr.io/org/x")


async def test_the_queued_cap_refuses_with_429_and_spares_admins_and_others(
    tmp_path: Path,
) -> None:
    master = core(tmp_path, admission=AdmissionRules(max_queued_per_user=3))
    for _ in range(3):
        await submit(master, "img")
    with pytest.raises(TooManyRequests, match=r"3 queued tasks, the most one user may have \(3\)"):
        await submit(master, "img")
    await submit(master, "img", BOB)
    await submit(master, "img", ADMIN)
    assert await master.store.count_tasks(user_id=ALICE.user_id) == 3


async def test_the_running_cap_keeps_tasks_queued_with_the_reason(tmp_path: Path) -> None:
    master = core(tmp_path, max_running_per_user=1)
    await master.registry.register("w1", "127.0.0.1:9", Resources(4, 8, 20))
    first, second = await submit(master, "img"), await submit(master, "img")
    await master.dispatcher.schedule_once()
    await master.applier.settle()
    assert (await master.tasks.get(ALICE, first)).status is TaskStatus.ASSIGNED
    waiting = await master.tasks.get(ALICE, second)
    assert waiting.status is TaskStatus.QUEUED
    assert master.dispatcher.pending_reason(second) == "user running-task limit reached (1)"
