"""The DockerExecutor looks an image up once; when a later create finds it gone, the pull
policy decides again, as for an image never seen. Fakes only: no daemon."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from docker.errors import DockerException, ImageNotFound, NotFound

from cloudai.worker.executors import DockerExecutor
from cloudai.worker.identity import WorkerIdentity
from tests.unit.worker.support import trivial_spec

IDENTITY = WorkerIdentity("w1", "instance-1", "cluster-1")
IMAGE = "img:1"


class FakeDaemon:
    """Images present or not; each create answers with the next scripted exception."""

    def __init__(self, present: bool, creates: list[DockerException]) -> None:
        self.present = present
        self.creates = creates
        self.lookups = 0
        self.pulls: list[str] = []

    def client(self) -> Any:
        api = SimpleNamespace(pull=self.pull, create_container=self.create,
                              remove_container=self.remove, _version="1.41")  # fmt: skip
        return SimpleNamespace(api=api, images=SimpleNamespace(get=self.get), close=lambda: None)

    def get(self, image: str) -> object:
        self.lookups += 1
        if not self.present:
            raise ImageNotFound(f"No such image: {image}")
        return object()

    def pull(self, image: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.pulls.append(image)
        self.present = True
        yield {"status": "Pull complete", "id": "a"}

    def create(self, **kwargs: Any) -> None:
        raise self.creates.pop(0)

    @staticmethod
    def remove(ref: str, **kwargs: Any) -> None:
        raise NotFound(f"{ref}: never created")


async def test_an_image_found_present_is_not_looked_up_again(tmp_path: Path) -> None:
    daemon = FakeDaemon(present=True, creates=[DockerException("no"), DockerException("no")])
    ex = DockerExecutor(IDENTITY, client_factory=daemon.client)
    first, second = (
        await ex.run(trivial_spec(tmp_path, IMAGE)),
        await ex.run(trivial_spec(tmp_path, IMAGE)),
    )
    await ex.close()
    assert first.error == second.error == "create container: no"
    assert daemon.lookups == 1 and daemon.pulls == []


async def test_an_image_gone_since_is_pulled_by_the_policy(tmp_path: Path) -> None:
    gone = ImageNotFound(f"No such image: {IMAGE}")
    daemon = FakeDaemon(present=True, creates=[DockerException("a"), gone, DockerException("b")])
    ex = DockerExecutor(IDENTITY, client_factory=daemon.client)
    await ex.run(trivial_spec(tmp_path, IMAGE))
    daemon.present = False  # removed meanwhile, behind the executor's back
    status = await ex.run(trivial_spec(tmp_path, IMAGE))
    await ex.close()
    assert status.error == "create container: b"  # created again once pulled
    assert daemon.pulls == [IMAGE] and daemon.lookups == 2


async def test_an_image_gone_since_fails_under_pull_policy_never(tmp_path: Path) -> None:
    gone = ImageNotFound(f"No such image: {IMAGE}")
    daemon = FakeDaemon(present=True, creates=[DockerException("a"), gone])
    ex = DockerExecutor(IDENTITY, pull_policy="never", client_factory=daemon.client)
    await ex.run(trivial_spec(tmp_path, IMAGE))
    daemon.present = False
    status = await ex.run(trivial_spec(tmp_path, IMAGE))
    await ex.close()
    assert status.failure == "image" and "not present locally" in status.error
    assert daemon.pulls == []
