"""Receiving an attempt's files: each verified against its SHA-256 and renamed into
place; a bad file is skipped and said, the rest kept; a refused or broken stream leaves
no partial file behind. Chunks are written while the next is received, so these also
cover an error surfacing one chunk late."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloudai.domain.errors import InvalidRequest
from cloudai.domain.resources import Resources
from cloudai.domain.task import OutputFile, Task, TaskStatus, submitted_event
from cloudai.master.bus import EventBus
from cloudai.master.files import FileArea
from cloudai.master.uploads import UploadChunk, UploadService
from cloudai.master.watch import TaskWatch
from cloudai.store.memory import InMemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 4


async def service(tmp_path: Path, max_bytes: int = 1 << 20) -> tuple[UploadService, InMemoryStore]:
    made = Task(
        task_id="t1", user_id="u1", name="t1", docker_image="img", command=None,
        request=Resources(1, 1, 1, 0), tag="", k_value=2.0, created_at=T0, updated_at=T0,
    )  # fmt: skip
    running = dataclasses.replace(made, status=TaskStatus.RUNNING, worker_id="w1", epoch=1)
    store = InMemoryStore()
    await store.add_task(running, submitted_event(running))
    uploads = UploadService(store, FileArea(tmp_path), TaskWatch(EventBus()), max_bytes=max_bytes)
    return uploads, store


def chunks_of(path: str, data: bytes, kind: str = "output", sha256: str = "") -> list[UploadChunk]:
    """`data` in CHUNK-byte chunks; the last carries the SHA-256 (`sha256`: a wrong one)."""
    digest = sha256 or hashlib.sha256(data).hexdigest()
    parts = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    last = len(parts) - 1
    return [
        UploadChunk("t1", 1, path, part, n == last, kind, digest if n == last else "")
        for n, part in enumerate(parts)
    ]


async def stream(
    chunks: Iterable[UploadChunk], fail: Exception | None = None
) -> AsyncIterator[UploadChunk]:
    for chunk in chunks:
        yield chunk
    if fail is not None:
        raise fail


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.rglob(".incoming-*"))


async def test_every_file_is_stored_and_recorded(tmp_path: Path) -> None:
    uploads, store = await service(tmp_path)
    sent = [*chunks_of("task.log", b"the log\n", "log"), *chunks_of("a.bin", b"0123456789"),
            *chunks_of("sub/b.txt", b"bee"), *chunks_of("empty", b"")]  # fmt: skip

    assert await uploads.receive("w1", stream(sent)) == 3

    files = tmp_path / "files" / "u1" / "t1"
    assert (files / "a.bin").read_bytes() == b"0123456789"
    assert (files / "sub" / "b.txt").read_bytes() == b"bee"
    assert (files / "empty").read_bytes() == b""
    assert (tmp_path / "logs" / "t1" / "1.log").read_bytes() == b"the log\n"
    assert await store.list_files("t1") == [
        OutputFile("a.bin", 10, hashlib.sha256(b"0123456789").hexdigest()),
        OutputFile("empty", 0, hashlib.sha256(b"").hexdigest()),
        OutputFile("sub/b.txt", 3, hashlib.sha256(b"bee").hexdigest()),
    ]
    assert leftovers(tmp_path) == []


async def test_a_file_with_a_bad_checksum_is_skipped_and_said(tmp_path: Path) -> None:
    uploads, store = await service(tmp_path)
    bad = chunks_of("bad", b"0123456789", sha256="0" * 64)
    sent = [*chunks_of("task.log", b"log\n", "log"), *bad, *chunks_of("good", b"fine")]

    assert await uploads.receive("w1", stream(sent)) == 1

    assert [f.path for f in await store.list_files("t1")] == ["good"]
    assert not (tmp_path / "files" / "u1" / "t1" / "bad").exists()
    log = (tmp_path / "logs" / "t1" / "1.log").read_text()
    assert "[cloudai] not stored on the master: bad: checksum mismatch for bad" in log
    assert leftovers(tmp_path) == []


async def test_a_stream_over_the_cap_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    uploads, store = await service(tmp_path, max_bytes=10)
    with pytest.raises(InvalidRequest, match="exceeds 10 bytes"):
        await uploads.receive("w1", stream(chunks_of("big", b"x" * 20)))
    assert leftovers(tmp_path) == [] and await store.list_files("t1") == []


async def test_a_broken_stream_leaves_no_partial_file(tmp_path: Path) -> None:
    uploads, store = await service(tmp_path)
    half = chunks_of("big", b"y" * 20)[:3]
    with pytest.raises(ConnectionError):
        await uploads.receive("w1", stream(half, fail=ConnectionError("stream broke")))
    assert leftovers(tmp_path) == [] and await store.list_files("t1") == []
    assert not (tmp_path / "files" / "u1" / "t1" / "big").exists()


async def test_uploading_again_replaces_the_files(tmp_path: Path) -> None:
    uploads, store = await service(tmp_path)
    await uploads.receive("w1", stream([*chunks_of("a", b"first"), *chunks_of("b", b"bee")]))
    assert await uploads.receive("w1", stream(chunks_of("a", b"second"))) == 1
    assert (tmp_path / "files" / "u1" / "t1" / "a").read_bytes() == b"second"
    assert [f.path for f in await store.list_files("t1")] == ["a"]


async def test_a_name_the_filesystem_refuses_skips_that_file_only(tmp_path: Path) -> None:
    uploads, store = await service(tmp_path)
    refused = chunks_of("n" * 300, b"z" * 10)  # one component over 255 bytes: ENAMETOOLONG
    sent = [*chunks_of("task.log", b"log\n", "log"), *refused, *chunks_of("after", b"ok")]

    assert await uploads.receive("w1", stream(sent)) == 1

    assert [f.path for f in await store.list_files("t1")] == ["after"]
    log = (tmp_path / "logs" / "t1" / "1.log").read_text()
    assert log.count("[cloudai] not stored on the master: nnn") == 1  # once, not per chunk
    assert leftovers(tmp_path) == []
