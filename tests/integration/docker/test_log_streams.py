"""Every log chunk keeps its stream and the time it was read, end to end: a real
container's stdout and stderr, through the worker's gRPC stream (live) and the master's
stored copy (after the end), to `/ws/tasks/{id}/logs` messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.api.ws_support import receive, token_of, until_closed, ws
from tests.integration.cluster.support import wait
from tests.integration.cluster.test_docker_cluster import cluster, submit

pytestmark = pytest.mark.docker

SCRIPT = (
    "echo out-1; echo err-1 >&2; sleep 0.3; echo out-2; "
    "while [ ! -e /output/go ]; do sleep 0.02; done; echo err-2 >&2"
)
EXPECTED = [("stdout", "out-1\n"), ("stderr", "err-1\n"), ("stdout", "out-2\n"),
            ("stderr", "err-2\n")]  # fmt: skip


def by_stream(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(stream, text) per line, in the order the messages came (Docker copies the two
    streams concurrently: only the order within each is the task's)."""
    lines = []
    for m in messages:
        if m["type"] == "log":
            assert m["stream"] in ("stdout", "stderr") and m["at"], m
            lines += [(m["stream"], line) for line in m["data"].splitlines(keepends=True)]
    return lines


def same_streams(lines: list[tuple[str, str]]) -> bool:
    """Each line with its own stream, and each stream's lines in their order."""
    return all(
        [line for line in lines if line[0] == name] == [e for e in EXPECTED if e[0] == name]
        for name in ("stdout", "stderr")
    ) and len(lines) == len(EXPECTED)


async def test_streams_and_times_reach_the_log_websocket_live_and_stored(tmp_path: Path) -> None:
    async with cluster(tmp_path) as http:
        task_id = await submit(http, command=SCRIPT)
        await wait(http, task_id, "running")
        port, token = http.base_url.port, token_of({"Authorization": http.headers["Authorization"]})
        assert port is not None
        path = f"/ws/tasks/{task_id}/logs"
        async with ws(port, path, token) as live:
            assert (await receive(live))["type"] == "connected"
            seen: list[dict[str, Any]] = []
            while len(by_stream(seen)) < 3:  # from the worker, while the task runs
                seen.append(await receive(live))
            output = tmp_path / "worker" / "w1" / "attempts" / f"{task_id}-1" / "output"
            (output / "go").touch()
            seen += (await until_closed(live)).messages
        assert same_streams(by_stream(seen))
        async with ws(port, path, token) as stored:  # the master's copy, after the end
            again = (await until_closed(stored)).messages
        assert same_streams(by_stream(again))
        times = [m["at"] for m in again if m["type"] == "log"]
        assert times == sorted(times)  # in the order they were read
