"""Re-attaching to containers against the real dockerd: a DockerExecutor that leaves a
running container, and another one with the same identity (a restarted worker) that
adopts it, continue one log with every byte exactly once, and the exit and `/output`
of the container; leftovers are this instance's containers only."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import Any

import pytest

from cloudai.worker.executors import DockerExecutor
from cloudai.worker.executors.base import LeftRunning
from cloudai.worker.executors.docker import LABEL_INSTANCE_ID, container_name
from cloudai.worker.identity import WorkerIdentity
from tests.helpers import wait_for_log
from tests.integration.docker.support import task_spec

pytestmark = pytest.mark.docker

# Numbered lines until the test drops `go` into /output, then a file and a last line
# without a newline (the one a followed daemon log can miss).
COUNTING = (
    "i=0; while [ ! -e /output/go ]; do i=$((i+1)); echo line $i; sleep 0.02; done; "
    "echo $i > /output/count.txt; printf 'end-no-eol'"
)


def assert_counted_once(log: bytes) -> int:
    """The log is `line 1` … `line N` with no gap or repeat, then the last line."""
    text = log.decode()
    assert text.endswith("end-no-eol"), text[-200:]
    numbers = [int(n) for n in re.findall(r"^line (\d+)$", text, re.M)]
    assert numbers == list(range(1, len(numbers) + 1)), text
    assert text == "".join(f"line {n}\n" for n in numbers) + "end-no-eol"
    return len(numbers)


async def leave_running(executor: DockerExecutor, run: asyncio.Task[Any]) -> None:
    """What a worker stopping in the `leave` mode does with a started run."""
    await executor.leave()
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError, LeftRunning):
        await run
    await executor.close()


async def container_log_has(client: Any, name: str, text: bytes) -> None:
    """Polled under a deadline: the daemon's copy of the log is the only signal."""
    async with asyncio.timeout(30):
        while text not in await asyncio.to_thread(client.containers.get(name).logs):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_left_container_is_adopted_with_its_log_exactly_once(
    identity: WorkerIdentity, docker_client: Any, tmp_path: Path
) -> None:
    spec = task_spec(tmp_path, COUNTING)
    name = container_name(spec.task_id, spec.epoch)
    first = DockerExecutor(identity, pull_policy="never")
    run = asyncio.create_task(first.run(spec))
    await wait_for_log(spec.log_path, b"line 5\n")
    await leave_running(first, run)
    assert docker_client.containers.get(name).status == "running"  # it outlived the executor
    held = spec.log_path.read_bytes()
    # While nobody follows it the container goes on: these lines are only in dockerd's log.
    last = int(re.findall(rb"line (\d+)\n", held)[-1])
    await container_log_has(docker_client, name, f"line {last + 20}\n".encode())

    second = DockerExecutor(identity, pull_policy="never")  # the restarted worker's
    try:
        assert await second.leftovers() == [spec.key]
        started: list[bool] = []
        adopted = asyncio.create_task(second.run(spec, lambda: started.append(True), adopt=True))
        await wait_for_log(spec.log_path, f"line {last + 40}\n".encode())  # followed live
        (spec.output_dir / "go").touch()
        status = await adopted
    finally:
        await second.close()
    assert (status.exit_code, status.error, status.cancelled) == (0, "", False)
    assert started == [True]
    count = assert_counted_once(spec.log_path.read_bytes())
    assert spec.log_path.read_bytes().startswith(held)
    assert (spec.output_dir / "count.txt").read_text() == f"{count}\n"
    assert await DockerExecutor(identity).leftovers() == []  # removed once it ended


async def test_a_container_that_ended_unseen_is_adopted_with_its_exit_code(
    identity: WorkerIdentity, docker_client: Any, tmp_path: Path
) -> None:
    spec = task_spec(tmp_path, "echo one; while [ ! -e /output/go ]; do sleep 0.02; done; "
                             "echo two; exit 7")  # fmt: skip
    name = container_name(spec.task_id, spec.epoch)
    first = DockerExecutor(identity, pull_policy="never")
    run = asyncio.create_task(first.run(spec))
    await wait_for_log(spec.log_path, b"one\n")
    await leave_running(first, run)
    (spec.output_dir / "go").touch()
    await asyncio.to_thread(docker_client.containers.get(name).wait)  # ended, nobody saw it

    second = DockerExecutor(identity, pull_policy="never")
    try:
        status = await second.run(spec, adopt=True)
    finally:
        await second.close()
    assert status.exit_code == 7
    assert spec.log_path.read_bytes() == b"one\ntwo\n"


async def test_an_adopted_container_stops_when_asked(
    identity: WorkerIdentity, tmp_path: Path
) -> None:
    spec = task_spec(tmp_path, COUNTING)
    first = DockerExecutor(identity, pull_policy="never")
    run = asyncio.create_task(first.run(spec))
    await wait_for_log(spec.log_path, b"line 2\n")
    await leave_running(first, run)

    second = DockerExecutor(identity, pull_policy="never")
    try:
        adopted = asyncio.create_task(second.run(spec, adopt=True))
        await wait_for_log(spec.log_path, b"line 30\n")
        assert await second.stop(*spec.key, grace_s=1)
        status = await adopted
    finally:
        await second.close()
    assert status.cancelled
    assert await DockerExecutor(identity).leftovers() == []


async def test_leftovers_and_reaping_spare_what_is_kept(
    identity: WorkerIdentity, docker_client: Any, tmp_path: Path
) -> None:
    kept, reaped = task_spec(tmp_path / "a", COUNTING), task_spec(tmp_path / "b", COUNTING)
    first = DockerExecutor(identity, pull_policy="never")
    runs = [asyncio.create_task(first.run(s)) for s in (kept, reaped)]
    for s in (kept, reaped):
        await wait_for_log(s.log_path, b"line 1\n")
    await first.leave()
    for run in runs:
        run.cancel()
    await asyncio.gather(*runs, return_exceptions=True)
    await first.close()
    other = WorkerIdentity(identity.worker_id, "instance-other", identity.cluster_id)
    assert await DockerExecutor(other).leftovers() == []  # another instance sees none

    second = DockerExecutor(identity, pull_policy="never")
    try:
        assert sorted(await second.leftovers()) == sorted([kept.key, reaped.key])
        assert await second.reap_orphans(keep=[kept.key]) == 1
        assert await second.leftovers() == [kept.key]
        mine = {"label": f"{LABEL_INSTANCE_ID}={identity.instance_id}"}
        names = {c.name for c in docker_client.containers.list(all=True, filters=mine)}
        assert names == {container_name(*kept.key)}
    finally:
        await second.close()
