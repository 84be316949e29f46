"""The DockerExecutor's blocking calls run on its own bounded pools: a hung daemon or a
stalled pull never takes the loop's default pool (the heartbeat's usage sampler runs
there), and a long pull never delays another run's short calls. Blocking is scripted
with threading.Event; nothing sleeps."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from docker.errors import DockerException, ImageNotFound, NotFound

from cloudai.worker.executors import DockerExecutor
from cloudai.worker.identity import WorkerIdentity
from tests.unit.worker.support import trivial_spec

IDENTITY = WorkerIdentity("w1", "instance-1", "cluster-1")


class Gate:
    """Holds every caller until released; `full` is set once `capacity` are held."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.release = threading.Event()
        self.full = threading.Event()
        self.held: list[str] = []  # the names of the threads held
        self._lock = threading.Lock()

    def hold(self) -> None:
        with self._lock:
            self.held.append(threading.current_thread().name)
            if len(self.held) >= self.capacity:
                self.full.set()
        self.release.wait(30)


def _default_pool_thread() -> str:
    return threading.current_thread().name


async def test_saturated_docker_calls_leave_the_default_pool_free(tmp_path: Path) -> None:
    gate = Gate(capacity=2)

    def lookup(image: str) -> None:
        gate.hold()
        raise ImageNotFound(f"{image} is gone")

    client = SimpleNamespace(images=SimpleNamespace(get=lookup), close=lambda: None)
    ex = DockerExecutor(IDENTITY, pull_policy="never", client_factory=lambda: client,
                        call_workers=2)  # fmt: skip
    runs = [asyncio.create_task(ex.run(trivial_spec(tmp_path))) for _ in range(3)]
    try:
        assert await asyncio.to_thread(gate.full.wait, 10)
        # Both call threads are held, a third run waits for one: to_thread still runs.
        name = await asyncio.wait_for(asyncio.to_thread(_default_pool_thread), 5)
        assert not name.startswith("docker-")
        assert len(gate.held) == 2
        assert all(held.startswith("docker-call") for held in gate.held)
    finally:
        gate.release.set()
    statuses = await asyncio.gather(*runs)
    assert [s.failure for s in statuses] == ["image"] * 3
    await ex.close()


async def test_a_stalled_pull_holds_neither_the_default_pool_nor_other_runs(
    tmp_path: Path,
) -> None:
    gate = Gate(capacity=1)

    def pull(image: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        gate.hold()
        yield {"status": "Pulling from x", "id": "1"}

    def lookup(image: str) -> object:
        if image == "missing:1":
            raise ImageNotFound("missing")
        return object()

    def create(**kwargs: Any) -> None:
        raise DockerException("no containers here")

    def remove_container(ref: str, **kwargs: Any) -> None:
        raise NotFound(f"{ref}: never created")

    api = SimpleNamespace(pull=pull, remove_container=remove_container, create_container=create,
                          _version="1.41")  # fmt: skip
    client = SimpleNamespace(api=api, images=SimpleNamespace(get=lookup), close=lambda: None)
    ex = DockerExecutor(IDENTITY, client_factory=lambda: client, pull_workers=1)
    pulling = asyncio.create_task(ex.run(trivial_spec(tmp_path, "missing:1")))
    try:
        assert await asyncio.to_thread(gate.full.wait, 10)
        assert gate.held[0].startswith("docker-pull")
        # Another run's lookup and create go ahead while the pull is held.
        other = await asyncio.wait_for(ex.run(trivial_spec(tmp_path, "present:1")), 5)
        assert other.error == "create container: no containers here"
        assert await asyncio.wait_for(asyncio.to_thread(_default_pool_thread), 5)
    finally:
        gate.release.set()
    assert (await pulling).error.startswith("create container")  # pulled, then create failed
    await ex.close()


async def test_close_shuts_its_pools_and_later_runs_are_refused(tmp_path: Path) -> None:
    ex = DockerExecutor(IDENTITY, client_factory=lambda: SimpleNamespace(close=lambda: None))
    await ex.close()
    refused = await ex.run(trivial_spec(tmp_path))
    assert refused.exit_code is None and "closed" in refused.error
