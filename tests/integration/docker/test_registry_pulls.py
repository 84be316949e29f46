"""Pulls from a real local registry (tests/registry.py) through the DockerExecutor: the
start-up it reports, credentials by registry, and how failed or stalled pulls end."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cloudai.domain.attempts import PHASE_CREATING, PHASE_PULLING
from cloudai.worker.executors import DockerExecutor, ExecutionSpec, ExitStatus, PullOptions
from cloudai.worker.executors.docker_images import MAX_REASON
from cloudai.worker.identity import WorkerIdentity
from tests.registry import Registry, remove_image, stalling_proxy

pytestmark = pytest.mark.docker


def _identity() -> WorkerIdentity:
    unique = uuid.uuid4().hex[:12]
    return WorkerIdentity(f"test-{unique}", f"instance-{unique}", f"cluster-{unique}")


def _spec(tmp_path: Path, image: str, command: str = "echo pulled-and-ran") -> ExecutionSpec:
    return ExecutionSpec(
        task_id=f"t-{uuid.uuid4().hex[:8]}", epoch=1, image=image, command=command, cpu=0.5,
        memory_gb=0.125, gpu=0, output_dir=tmp_path / "out", log_path=tmp_path / "task.log",
    )  # fmt: skip


class Recorder:
    """What a run told: its progress, then "started", in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def started(self) -> None:
        self.seen.append(("started", ""))

    def progress(self, phase: str, message: str) -> None:
        self.seen.append((phase, message))

    def phases(self) -> list[str]:
        phases = [phase for phase, _ in self.seen]
        return [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p]


async def _run(ex: DockerExecutor, spec: ExecutionSpec, seen: Recorder) -> ExitStatus:
    return await asyncio.wait_for(ex.run(spec, seen.started, progress=seen.progress), 60)


@pytest.fixture
async def executors() -> AsyncIterator[list[DockerExecutor]]:
    made: list[DockerExecutor] = []
    yield made
    for ex in made:
        await ex.close()


def _executor(made: list[DockerExecutor], **options: Any) -> DockerExecutor:
    ex = DockerExecutor(_identity(), pulls=PullOptions(**options))
    made.append(ex)
    return ex


@pytest.mark.parametrize("policy", ["always", "if-not-present"])
async def test_a_missing_image_is_pulled_then_created_then_started(
    registry: Registry, docker_client: Any, executors: list[DockerExecutor], tmp_path: Path,
    policy: str,
) -> None:  # fmt: skip
    image = registry.push(docker_client, unique_layer=True)
    ex = _executor(executors, policy=policy, report_every_s=0.0)  # every stream event
    seen = Recorder()

    status = await _run(ex, _spec(tmp_path, image), seen)

    assert (status.exit_code, status.error) == (0, ""), status
    assert seen.phases() == [PHASE_PULLING, PHASE_CREATING, "started"]
    pulling = [message for phase, message in seen.seen if phase == PHASE_PULLING]
    assert pulling[0] == f"pulling image {image}"
    assert any("of 2 layers" in m and " MB" in m for m in pulling), pulling
    assert (tmp_path / "task.log").read_bytes() == b"pulled-and-ran\n"
    docker_client.images.get(image)  # it is here now


async def test_a_present_image_is_not_pulled_with_if_not_present(
    registry: Registry, docker_client: Any, executors: list[DockerExecutor], tmp_path: Path
) -> None:
    image = registry.push(docker_client)
    docker_client.images.pull(image)
    seen = Recorder()

    status = await _run(_executor(executors), _spec(tmp_path, image), seen)

    assert status.exit_code == 0
    assert seen.phases() == [PHASE_CREATING, "started"]


async def test_a_missing_tag_fails_at_once_with_failure_image(
    registry: Registry, docker_client: Any, executors: list[DockerExecutor], tmp_path: Path
) -> None:
    image = f"{registry.host}/cloudai-test:no-such-tag"
    seen = Recorder()

    status = await _run(_executor(executors, policy="always"), _spec(tmp_path, image), seen)

    assert (status.exit_code, status.failure) == (None, "image")
    assert status.error.startswith(f"pull image {image!r}: ")
    assert "not found" in status.error and len(status.error) <= MAX_REASON
    assert seen.phases() == [PHASE_PULLING]  # never created, never started


async def test_credentials_from_the_auth_file_are_used_for_their_registry(
    auth_registry: Registry, docker_client: Any, executors: list[DockerExecutor], tmp_path: Path
) -> None:
    image = auth_registry.push(docker_client)
    assert auth_registry.auth is not None
    auths = {auth_registry.host: auth_registry.auth, "other.example:5000": {"username": "x",
             "password": "y"}}  # fmt: skip
    seen = Recorder()

    status = await _run(
        _executor(executors, policy="always", auths=auths), _spec(tmp_path, image), seen
    )

    assert (status.exit_code, status.error) == (0, ""), status
    assert seen.phases() == [PHASE_PULLING, PHASE_CREATING, "started"]
    remove_image(docker_client, image)


@pytest.mark.parametrize("password", [None, "wrong-password"])
async def test_without_valid_credentials_a_pull_fails_fast_as_unauthorized(
    auth_registry: Registry, docker_client: Any, executors: list[DockerExecutor], tmp_path: Path,
    password: str | None,
) -> None:  # fmt: skip
    image = auth_registry.push(docker_client)
    auths = {auth_registry.host: {"username": "cloudai-test", "password": password}}
    ex = _executor(executors, policy="if-not-present", auths=auths if password else {})

    began = time.monotonic()
    status = await _run(ex, _spec(tmp_path, image), Recorder())

    assert time.monotonic() - began < 15
    assert (status.exit_code, status.failure) == (None, "image")
    assert status.error.startswith(f"pull image {image!r}: unauthorized")
    assert "wrong-password" not in status.error and len(status.error) <= MAX_REASON


async def test_a_stalled_pull_ends_at_its_timeout_as_pull_timeout(
    registry: Registry, docker_client: Any, executors: list[DockerExecutor], tmp_path: Path
) -> None:
    pushed = registry.push(docker_client, unique_layer=True)
    with stalling_proxy(registry) as proxy:
        image = pushed.replace(registry.host, f"127.0.0.1:{proxy.port}")
        ex = _executor(executors, policy="always", timeout_s=1.5)
        seen = Recorder()

        began = time.monotonic()
        status = await _run(ex, _spec(tmp_path, image), seen)

        assert proxy.stalled.is_set()  # it did stall in the download, not before
        assert 1.5 <= time.monotonic() - began < 10
        assert (status.exit_code, status.failure) == (None, "pull_timeout")
        assert status.error == f"pull image {image!r}: timed out after 1.5 s"
        assert seen.phases() == [PHASE_PULLING]
    await asyncio.wait_for(ex.close(), 10)  # the pull's thread was freed


async def test_stopping_a_run_during_its_pull_cancels_it(
    registry: Registry, docker_client: Any, executors: list[DockerExecutor], tmp_path: Path
) -> None:
    pushed = registry.push(docker_client, unique_layer=True)
    with stalling_proxy(registry) as proxy:
        image = pushed.replace(registry.host, f"127.0.0.1:{proxy.port}")
        ex = _executor(executors, policy="always")
        spec = _spec(tmp_path, image)
        run = asyncio.create_task(ex.run(spec))
        await asyncio.to_thread(proxy.stalled.wait, 30)

        assert await ex.stop(spec.task_id, spec.epoch) is True
        status = await asyncio.wait_for(run, 10)

        assert status == ExitStatus(exit_code=None, cancelled=True)
        assert await ex.running() == []
