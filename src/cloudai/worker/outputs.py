"""Collecting a finished task's output directory: which files, how big, which hashes.

The directory was written by untrusted task code, so nothing is followed: symlinks
(to files or directories) are skipped, never resolved, and only regular files count.
Files are opened with O_NOFOLLOW | O_NONBLOCK and checked again with fstat, so a path
swapped for a symlink or a FIFO after the scan is skipped rather than followed or
blocked on.

Collecting only sizes each file; its bytes are read once, when it is sent
(`OutgoingFile`: read in CHUNK_SIZE blocks and hashed as they are read).

Synchronous on purpose: callers run it in a thread.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

# 1 MiB messages: measured (bench/outputs.py) faster than 2-4 MiB over loopback gRPC,
# with less memory; 512 KiB no faster.
CHUNK_SIZE = 1024 * 1024
MAX_PATH = 1024  # the longest relative path the master stores
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True, slots=True)
class CollectedFile:
    rel_path: str  # posix, relative to the collected root
    path: Path
    size: int  # what is sent: at most these bytes (the caps counted this size)


@dataclass(slots=True)
class CollectedOutputs:
    files: list[CollectedFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "<rel_path>: <reason>"
    escaped: list[str] = field(default_factory=list)  # names not UTF-8, as kept
    capped: int = 0  # of `skipped`: left out for the count or size caps

    def cap_note(self) -> str:
        """What the task's result says of files the caps left out; "" for none."""
        if not self.capped:
            return ""
        files = "file" if self.capped == 1 else "files"
        return f"{self.capped} output {files} over the caps not collected (named in the log)"

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


class UnusableFile(Exception):
    """Not read: a symlink (swapped in since the scan) or not a regular file."""


class _Skip(Exception):
    """A file is left out; the message is the reason."""


class _OverCap(_Skip):
    """Left out for a cap."""


def collect_outputs(
    root: Path, *, max_files: int = 1000, max_total_bytes: int = 10 * 1024**3
) -> CollectedOutputs:
    """Every regular file under `root`, in sorted order, within the caps.

    A file that would exceed `max_files` or `max_total_bytes` is skipped (and later,
    smaller files may still fit the byte cap). A missing `root` collects nothing.
    """
    result = CollectedOutputs()
    if not root.is_dir():
        return result
    total = 0
    for rel, entry in _walk(root, result.skipped):
        try:
            if len(rel) > MAX_PATH:
                raise _Skip(f"path longer than {MAX_PATH} characters")
            if len(result.files) >= max_files:
                raise _OverCap(f"over cap (max_files={max_files})")
            item = _collect_one(rel, entry, max_total_bytes - total)
        except _Skip as skip:
            result.skipped.append(f"{rel}: {skip}")
            result.capped += isinstance(skip, _OverCap)
            continue
        total += item.size
        result.files.append(item)
        if item.rel_path != rel:
            result.escaped.append(item.rel_path)
    return result


def _collect_one(rel: str, entry: os.DirEntry[str], budget: int) -> CollectedFile:
    over_cap = _OverCap(f"over cap (max_total_bytes, {budget} bytes left)")
    try:
        if entry.stat(follow_symlinks=False).st_size > budget:
            raise over_cap
        with _open_regular(entry.path) as handle:  # readable, and still a regular file
            size = os.fstat(handle.fileno()).st_size
    except UnusableFile as exc:
        raise _Skip(str(exc)) from exc
    except OSError as exc:
        raise _Skip(f"unreadable ({exc.strerror or exc})") from exc
    if size > budget:  # in case it grew since the scan
        raise over_cap
    return CollectedFile(_utf8_name(rel), Path(entry.path), size)


def _utf8_name(rel: str) -> str:
    """A name that is not UTF-8 (undecodable bytes arrive as surrogates) is kept under
    an escaped one (`\\xff`): the wire and the master's store carry UTF-8 only."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(rel).decode("utf-8", errors="backslashreplace")
    return rel


def _walk(root: Path, skipped: list[str]) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Regular files under `root` as (posix relative path, entry), depth first, sorted.

    Everything else is recorded in `skipped`. Iterative, so deep trees cannot exhaust
    the recursion limit.
    """
    stack: list[tuple[str, str]] = [("", str(root))]
    while stack:
        prefix, directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            skipped.append(f"{prefix or '.'}: unreadable directory ({exc.strerror or exc})")
            continue
        subdirs: list[tuple[str, str]] = []
        for entry in entries:
            rel = f"{prefix}/{entry.name}" if prefix else entry.name
            if entry.is_symlink():
                skipped.append(f"{rel}: symlink")
            elif entry.is_dir(follow_symlinks=False):
                subdirs.append((rel, entry.path))
            elif entry.is_file(follow_symlinks=False):
                yield rel, entry
            else:
                skipped.append(f"{rel}: not a regular file")
        stack.extend(reversed(subdirs))  # so that the first sorted subdir is visited first


def _open_regular(path: str | Path) -> BinaryIO:
    """`path` opened for reading, never through a symlink nor blocking on a FIFO."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if os.path.islink(path):  # replaced by a symlink since the scan (ELOOP)
            raise UnusableFile("symlink") from exc
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnusableFile("not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class OutgoingFile:
    """One file read front to back, once, in CHUNK_SIZE blocks, hashed as it is read;
    at most `limit` bytes (None: its size when opened). Blocking: call it in a thread.

    One handle for the whole file (not one per chunk); whoever opens it closes it.
    Raises OSError, or UnusableFile for a symlink or a non-regular file."""

    def __init__(self, path: Path, limit: int | None = None) -> None:
        self._handle = _open_regular(path)
        size = os.fstat(self._handle.fileno()).st_size
        self._left = size if limit is None else min(limit, size)
        self._digest = hashlib.sha256()

    def read(self) -> tuple[bytes, bool]:
        """(the next block, whether it is the last); an empty file is one empty block.
        A file that shrank since it was opened ends early, at what it has."""
        data = self._handle.read(min(self._left, CHUNK_SIZE)) if self._left else b""
        self._digest.update(data)
        self._left = self._left - len(data) if data else 0
        return data, not self._left

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of what was read so far (of the whole file after the last)."""
        return self._digest.hexdigest()

    def close(self) -> None:
        self._handle.close()


def read_at(path: Path, offset: int, size: int) -> bytes:
    """Up to `size` bytes of `path` from `offset` (blocking: call it in a thread). The
    file is open only for this read, so a stream abandoned between reads leaks nothing."""
    with path.open("rb") as handle:
        if offset >= os.fstat(handle.fileno()).st_size:  # a far seek fails on some filesystems
            return b""
        handle.seek(offset)
        return handle.read(size)
