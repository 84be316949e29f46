"""What a running container uses, from the daemon's stats of its cgroup: a container
that spins on half a core shows CPU in use (never beyond its quota by much) and some
memory; nothing is reported for runs that have ended."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cloudai.worker.executors import DockerExecutor
from cloudai.worker.identity import WorkerIdentity
from tests.helpers import wait_for_log
from tests.integration.docker.support import task_spec

pytestmark = pytest.mark.docker

# Busy on its half core: a counted loop (well over a CFS period), then on until `go`.
SPIN = (
    "echo spinning; i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo looped; "
    "while [ ! -e /output/go ]; do :; done"
)


async def test_a_spinning_container_shows_its_cpu_and_memory(
    identity: WorkerIdentity, tmp_path: Path
) -> None:
    spec = task_spec(tmp_path, SPIN)
    executor = DockerExecutor(identity, pull_policy="never")
    try:
        run = asyncio.create_task(executor.run(spec))
        await wait_for_log(spec.log_path, b"spinning\n")
        assert await executor.usage() == {}  # a first sample: nothing to compare with
        await wait_for_log(spec.log_path, b"looped\n")  # CPU time spent since
        cores, memory_gb = (await executor.usage())[spec.key]
        assert 0.05 < cores < 0.75  # it spins, within its half-core quota (and some slack)
        assert 0 < memory_gb < 0.125
        (spec.output_dir / "go").touch()
        assert (await run).exit_code == 0
        assert await executor.usage() == {}
    finally:
        await executor.close()
