"""The per-attempt log cap on real containers: a log over it keeps its first part and
its tail with one notice between them, the task goes on to its end, and a container
re-attached to after its log was cut continues it without repeating a byte."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from cloudai.worker.executors import DockerExecutor, ExecutionSpec
from cloudai.worker.executors.base import LeftRunning
from cloudai.worker.identity import WorkerIdentity
from cloudai.worker.logcap import NOTICE_START, LogCap
from tests.helpers import wait_for_log
from tests.integration.docker.support import task_spec

pytestmark = pytest.mark.docker

CAP = LogCap(4096)  # head 2,048 bytes, tail 2,048
# 3,000 numbered lines of 6 bytes (18,000 bytes), then a marker on /output.
LINES = 3000
EXPECTED = b"".join(f"{n:05d}\n".encode() for n in range(1, LINES + 1))
PRINT = f"for i in $(seq 1 {LINES}); do printf '%05d\\n' $i; done; touch /output/went-on"


def spec_in(tmp_path: Path, command: str) -> ExecutionSpec:
    return task_spec(tmp_path, command, max_log_bytes=CAP.max_bytes)


def cut(output: bytes) -> bytes:
    return output[: CAP.head_bytes] + CAP.notice() + output[-CAP.tail_bytes :]


async def test_a_log_over_the_cap_keeps_its_head_and_tail_and_the_task_goes_on(
    identity: WorkerIdentity, tmp_path: Path
) -> None:
    spec = spec_in(tmp_path, PRINT)
    executor = DockerExecutor(identity, pull_policy="never")
    try:
        status = await executor.run(spec)
    finally:
        await executor.close()
    assert status.exit_code == 0
    assert spec.log_path.read_bytes() == cut(EXPECTED)
    assert (spec.output_dir / "went-on").exists()  # it ran to its end


async def test_a_cut_log_continues_after_a_re_attach(
    identity: WorkerIdentity, tmp_path: Path
) -> None:
    # Past the cap at once, then waits for `go`, then the rest.
    half = LINES // 2
    command = (
        f"for i in $(seq 1 {half}); do printf '%05d\\n' $i; done; "
        "while [ ! -e /output/go ]; do sleep 0.02; done; "
        f"for i in $(seq {half + 1} {LINES}); do printf '%05d\\n' $i; done"
    )
    spec = spec_in(tmp_path, command)
    first = DockerExecutor(identity, pull_policy="never")
    run = asyncio.create_task(first.run(spec))
    await wait_for_log(spec.log_path, NOTICE_START)
    await first.leave()
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError, LeftRunning):
        await run
    await first.close()
    assert spec.log_path.read_bytes() == EXPECTED[: CAP.head_bytes] + CAP.notice()

    second = DockerExecutor(identity, pull_policy="never")
    try:
        adopted = asyncio.create_task(second.run(spec, adopt=True))
        (spec.output_dir / "go").touch()
        status = await adopted
    finally:
        await second.close()
    assert status.exit_code == 0
    assert spec.log_path.read_bytes() == cut(EXPECTED)
