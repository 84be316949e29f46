"""Session fixtures shared by the integration suites that use the real dockerd: a Docker
client, and two local registries (without and with htpasswd auth), started only when a
test asks for them and stopped, with the images pushed there, at the session's end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker
import pytest
from docker.errors import DockerException, ImageNotFound

from tests.registry import BASE_IMAGE, Registry, start_registry


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        pytest.fail(f"dockerd is not reachable: {exc}")
    try:
        client.images.get(BASE_IMAGE)
    except ImageNotFound:
        pytest.fail(f"{BASE_IMAGE} is missing: run scripts/build-test-image.sh")
    yield client
    client.close()


@pytest.fixture(scope="session")
def registry(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    started = start_registry(tmp_path_factory.mktemp("registry"), with_auth=False)
    yield started
    started.stop(docker_client)


@pytest.fixture(scope="session")
def auth_registry(
    docker_client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    started = start_registry(tmp_path_factory.mktemp("auth-registry"), with_auth=True)
    yield started
    started.stop(docker_client)
