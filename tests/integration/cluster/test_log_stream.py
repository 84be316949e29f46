"""Following task logs end to end: master and worker in one event loop over real gRPC,
the master's HTTP on a loopback port, the fake executor. The log WebSocket and the
chunked HTTP log; the events WebSocket with a real worker."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cloudai.worker.executors.base import ExecutionSpec
from cloudai.worker.executors.fake import FakeExecutor, FakeRun
from tests.integration.api.ws_support import receive, token_of, until_closed, ws
from tests.integration.cluster.test_grpc_cluster import Cluster, running_cluster

MANY = [f"line {n:06d}" for n in range(100_000)]
# 65,535 single bytes, then a 3-byte character across the 64 KiB read boundary.
SPLIT = ["a" * 65_535 + "€ after the boundary", "ünïcödé ✓"]


def script(spec: ExecutionSpec) -> FakeRun:
    command = spec.command if isinstance(spec.command, str) else ""
    if command == "many":
        return FakeRun(lines=MANY, block=True)
    if command == "split":
        return FakeRun(lines=SPLIT, block=True)
    if command == "silent":
        return FakeRun(lines=[])
    if command == "retry":  # the first attempt's executor breaks: a counted retry
        if spec.epoch == 1:
            return FakeRun(lines=["first attempt"], exit_code=None, error="executor broke")
        return FakeRun(lines=["second attempt"], exit_code=3)
    return FakeRun(lines=["line one", "line two"])


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with running_cluster(tmp_path, FakeExecutor(script)) as running:
        yield running


def token(cluster: Cluster) -> str:
    return token_of({"Authorization": cluster.http.headers["Authorization"]})


async def started(cluster: Cluster, command: str, **fields: Any) -> str:
    answer = await cluster.http.post(
        "/api/tasks", json={"docker_image": "img", "command": command, **fields}
    )
    assert answer.status_code == 201, answer.text
    task_id: str = answer.json()["task_id"]
    await cluster.executor.wait_started(task_id, 1)
    return task_id


def text_of(messages: list[dict[str, Any]], attempt: int = 1) -> str:
    """The log text of one attempt, checking the messages cover its bytes exactly once."""
    logs = [m for m in messages if m["type"] == "log" and m["attempt"] == attempt]
    for before, after in itertools.pairwise(logs):
        assert after["offset"] == before["next_offset"]
    return "".join(m["data"] for m in logs)


async def test_a_follower_gets_every_line_resumes_exactly_and_ends_with_the_exit_code(
    cluster: Cluster,
) -> None:
    task_id = await started(cluster, "many")
    path = f"/ws/tasks/{task_id}/logs"
    async with ws(cluster.master.http_port, path, token(cluster)) as client:
        connected = await receive(client)
        assert (connected["type"], connected["attempt"], connected["offset"]) == ("connected", 1, 0)
        first = [await receive(client) for _ in range(5)]  # live, from the worker
        client.transport.abort()  # a forced disconnect: no closing handshake
    assert first[0]["offset"] == 0 and first[0]["stream"] is None
    resume_at = first[-1]["next_offset"]

    async with ws(cluster.master.http_port, f"{path}?attempt=1&offset={resume_at}",
                  token(cluster)) as client:  # fmt: skip
        assert (await receive(client))["offset"] == resume_at
        assert cluster.executor.finish(task_id, 1)  # the rest comes live or stored
        closed = await until_closed(client)
    rest = closed.messages
    assert rest[0]["offset"] == resume_at
    assert rest[-1] == {
        "type": "complete", "task_id": task_id, "attempt": 1, "status": "completed",
        "exit_code": 0, "reason": "exit code 0",
    }  # fmt: skip
    assert closed.code == 1000
    assert (text_of(first) + text_of(rest)).splitlines() == MANY


async def test_a_character_split_between_reads_stays_whole(cluster: Cluster) -> None:
    task_id = await started(cluster, "split")
    expected = "".join(f"{line}\n" for line in SPLIT)
    path, port = f"/ws/tasks/{task_id}/logs", cluster.master.http_port
    async with ws(port, path, token(cluster)) as client:
        await receive(client)
        live: list[dict[str, Any]] = []
        while text_of(live) != expected:  # every byte there is, from the worker
            live.append(await receive(client))
    cluster.executor.finish(task_id, 1)
    await cluster.wait(task_id, "completed")
    async with ws(port, path, token(cluster)) as client:
        stored = (await until_closed(client)).messages  # from the master's copy
    for messages in (live, stored):
        assert text_of(messages) == expected and "\ufffd" not in text_of(messages)
    # The boundary's message ends before the cut character; the next one starts with it.
    cut = next(m for m in stored if m["type"] == "log" and m["offset"] > 0)
    assert cut["offset"] == 65_535 and cut["data"].startswith("€")


async def test_a_task_that_printed_nothing_reads_as_an_empty_finished_log(
    cluster: Cluster,
) -> None:
    task_id = await cluster.submit("silent")
    await cluster.wait(task_id, "completed")
    logs = cluster.master.settings.data_dir / "logs"
    assert not (logs / task_id).exists()  # no file, no directory for it on the master
    read = (await cluster.http.get(f"/api/tasks/{task_id}/logs")).json()
    assert (read["logs"], read["next_offset"], read["complete"]) == ("", 0, True)
    raw = await cluster.http.get(f"/api/tasks/{task_id}/logs/stream", params={"follow": "true"})
    assert (raw.status_code, raw.text) == (200, "")
    tail = await cluster.http.get(f"/api/tasks/{task_id}/logs/stream", params={"tail": 5})
    assert (tail.status_code, tail.text) == (200, "")
    async with ws(cluster.master.http_port, f"/ws/tasks/{task_id}/logs", token(cluster)) as client:
        closed = await until_closed(client)
    assert [m["type"] for m in closed.messages] == ["connected", "complete"]


async def test_a_follower_goes_on_into_the_retry(cluster: Cluster) -> None:
    answer = await cluster.http.post(
        "/api/tasks", json={"docker_image": "img", "command": "retry", "max_retries": 1}
    )
    task_id = answer.json()["task_id"]
    async with ws(cluster.master.http_port, f"/ws/tasks/{task_id}/logs?attempt=1",
                  token(cluster)) as client:  # fmt: skip
        closed = await until_closed(client)
    logs = [(m["attempt"], m["offset"], m["data"]) for m in closed.messages if m["type"] == "log"]
    assert logs == [(1, 0, "first attempt\n"), (2, 0, "second attempt\n")]
    end = closed.messages[-1]
    assert (end["type"], end["attempt"], end["status"], end["exit_code"]) == (
        "complete", 2, "failed", 3,
    )  # fmt: skip


async def test_the_http_log_follows_to_the_end_and_tails(cluster: Cluster) -> None:
    task_id = await started(cluster, "many")
    url = f"/api/tasks/{task_id}/logs/stream"
    tail = await cluster.http.get(url, params={"tail": 3})  # running: the worker's copy
    assert tail.text.splitlines() == MANY[-3:]
    async with cluster.http.stream("GET", url, params={"follow": "true"}) as answer:
        assert answer.headers["x-cloudai-attempt"] == "1"
        received = bytearray()
        async for chunk in answer.aiter_bytes():
            received += chunk
            if len(received) >= 65_536:  # well under way: let it end
                cluster.executor.finish(task_id, 1)
    assert received.decode().splitlines() == MANY
    tail = await cluster.http.get(url, params={"tail": 2})  # final: the stored copy
    assert tail.text.splitlines() == MANY[-2:]
    refused = await cluster.http.get(url, params={"tail": 2, "offset": 5})
    assert refused.status_code == 422


async def test_events_see_a_task_go_queued_assigned_running_completed(
    cluster: Cluster,
) -> None:
    async with ws(cluster.master.http_port, "/ws/events", token(cluster)) as client:
        assert (await receive(client))["type"] == "connected"
        task_id = await cluster.submit("echo")
        moves: list[tuple[str | None, str]] = []
        while not moves or moves[-1][1] != "completed":
            event = await receive(client)
            if event["task_id"] == task_id and event["from_status"] != event["to_status"]:
                moves.append((event["from_status"], event["to_status"]))
    assert moves == [
        (None, "queued"), ("queued", "assigned"), ("assigned", "running"),
        ("running", "completed"),
    ]  # fmt: skip


async def test_stopping_the_master_ends_the_open_streams(cluster: Cluster) -> None:
    task_id = await started(cluster, "many")  # runs until stopped
    port, url = cluster.master.http_port, f"/api/tasks/{task_id}/logs/stream"
    async with (
        ws(port, f"/ws/tasks/{task_id}/logs", token(cluster)) as log,
        ws(port, "/ws/events", token(cluster)) as events,
        cluster.http.stream("GET", url, params={"follow": "true"}) as answer,
    ):
        assert (await receive(log))["type"] == "connected"
        assert (await receive(events))["type"] == "connected"
        chunks = answer.aiter_bytes()
        received = bytearray(await anext(chunks))  # flowing, and would never end by itself
        await asyncio.wait_for(cluster.master.stop(), 30)  # not held up by them
        async for chunk in chunks:
            received += chunk
        for client in (log, events):
            closed = await until_closed(client)
            assert closed.code == 1012, closed
    assert MANY[0] in received.decode()
