"""What the real-dockerd tests of this folder share: a worker identity unique to the
test, whose containers are removed afterwards (whatever a failed test left behind)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cloudai.worker.executors.docker import LABEL_INSTANCE_ID
from cloudai.worker.identity import WorkerIdentity
from tests.integration.docker.support import new_identity


@pytest.fixture
def identity(docker_client: Any) -> Iterator[WorkerIdentity]:
    identity = new_identity()
    yield identity
    mine = {"label": f"{LABEL_INSTANCE_ID}={identity.instance_id}"}
    for c in docker_client.containers.list(all=True, filters=mine):
        c.remove(force=True)
