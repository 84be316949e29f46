from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cloudai.worker.outputs import (
    CHUNK_SIZE,
    OutgoingFile,
    UnusableFile,
    collect_outputs,
    read_at,
)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_nested_files_with_size(tmp_path: Path) -> None:
    root = tmp_path / "out"
    contents = {
        "a.txt": b"hello\n",
        "sub/b.bin": bytes(range(256)) * 5000,
        "sub/deeper/c": b"",
    }
    for rel, data in contents.items():
        _write(root / rel, data)

    result = collect_outputs(root)

    assert [f.rel_path for f in result.files] == ["a.txt", "sub/b.bin", "sub/deeper/c"]
    for f in result.files:
        assert f.size == len(contents[f.rel_path])
        assert f.path == root / f.rel_path
    assert result.skipped == []
    assert result.total_bytes == sum(len(d) for d in contents.values())


def test_symlinks_are_skipped_and_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _write(outside / "secret.txt", b"secret")
    root = tmp_path / "out"
    _write(root / "real.txt", b"real")
    (root / "file_link").symlink_to(outside / "secret.txt")
    (root / "dir_link").symlink_to(outside, target_is_directory=True)
    (root / "dangling").symlink_to(tmp_path / "nowhere")

    result = collect_outputs(root)

    assert [f.rel_path for f in result.files] == ["real.txt"]
    assert sorted(result.skipped) == [
        "dangling: symlink",
        "dir_link: symlink",
        "file_link: symlink",
    ]


def test_fifo_is_skipped_without_blocking(tmp_path: Path) -> None:
    root = tmp_path / "out"
    _write(root / "ok.txt", b"ok")
    os.mkfifo(root / "pipe")

    result = collect_outputs(root)

    assert [f.rel_path for f in result.files] == ["ok.txt"]
    assert result.skipped == ["pipe: not a regular file"]


def test_max_files_cap(tmp_path: Path) -> None:
    root = tmp_path / "out"
    for i in range(5):
        _write(root / f"f{i}", b"x")

    result = collect_outputs(root, max_files=3)

    assert [f.rel_path for f in result.files] == ["f0", "f1", "f2"]
    assert len(result.skipped) == 2
    assert all("over cap" in s and "max_files" in s for s in result.skipped)


def test_max_total_bytes_cap_skips_what_does_not_fit(tmp_path: Path) -> None:
    root = tmp_path / "out"
    _write(root / "a", b"1" * 60)
    _write(root / "b", b"2" * 60)  # 120 > 100: skipped
    _write(root / "c", b"3" * 40)  # still fits: 60 + 40 = 100

    result = collect_outputs(root, max_total_bytes=100)

    assert [f.rel_path for f in result.files] == ["a", "c"]
    assert result.total_bytes == 100
    assert len(result.skipped) == 1
    assert result.skipped[0].startswith("b: over cap")


def test_missing_root_collects_nothing(tmp_path: Path) -> None:
    result = collect_outputs(tmp_path / "absent")
    assert result.files == []
    assert result.skipped == []


def test_read_at_reads_a_window(tmp_path: Path) -> None:
    path = tmp_path / "f"
    data = os.urandom(2500)
    path.write_bytes(data)

    chunks = [read_at(path, offset, 1000) for offset in (0, 1000, 2000)]

    assert [len(c) for c in chunks] == [1000, 1000, 500]
    assert b"".join(chunks) == data
    assert read_at(path, 0, 4096) == data
    assert read_at(path, 2500, 1000) == b""


def test_read_at_of_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.touch()
    assert read_at(path, 0, 1024) == b""


def _read_all(outgoing: OutgoingFile) -> list[bytes]:
    chunks, last = [], False
    while not last:
        data, last = outgoing.read()
        chunks.append(data)
    outgoing.close()
    return chunks


def test_outgoing_file_is_read_in_chunks_and_hashed_as_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    data = os.urandom(2 * CHUNK_SIZE + 10)
    path.write_bytes(data)

    outgoing = OutgoingFile(path)
    chunks = _read_all(outgoing)

    assert [len(c) for c in chunks] == [CHUNK_SIZE, CHUNK_SIZE, 10]
    assert b"".join(chunks) == data
    assert outgoing.sha256 == hashlib.sha256(data).hexdigest()


def test_outgoing_empty_file_is_one_empty_chunk(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.touch()
    outgoing = OutgoingFile(path)
    assert _read_all(outgoing) == [b""]
    assert outgoing.sha256 == hashlib.sha256(b"").hexdigest()


def test_outgoing_file_sends_at_most_the_collected_size(tmp_path: Path) -> None:
    path = tmp_path / "grew"
    path.write_bytes(b"0123456789")
    outgoing = OutgoingFile(path, limit=4)  # what the caps counted; it grew since
    assert _read_all(outgoing) == [b"0123"]
    assert outgoing.sha256 == hashlib.sha256(b"0123").hexdigest()


def test_outgoing_file_refuses_a_symlink_and_a_fifo(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"secret")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    os.mkfifo(tmp_path / "pipe")
    for name in ("link", "pipe"):
        with pytest.raises(UnusableFile):
            OutgoingFile(tmp_path / name)
