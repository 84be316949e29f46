"""Waking log followers when a log grows, instead of polling it.

A log is written by the worker (the docker executor's copy, CloudAI's notes) or
straight by the task's own process (the process executor): only the kernel sees every
write. On Linux, one inotify descriptor (opened while anyone follows, closed after)
watches each followed log, and every write sets its followers' events. Where inotify
is missing or refuses a watch, `growth` gives None and the caller polls.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import logging
import os
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004  # also: the file's last link went (deleted)
_IN_CLOSE_WRITE = 0x008
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_IGNORED = 0x8000  # the kernel dropped the watch (file gone)
_WATCHED = _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_DELETE_SELF | _IN_MOVE_SELF
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, name length (then the name)
_READ = 64 * 1024


def _inotify() -> Any | None:
    """libc, if it has inotify (Linux); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for name in ("inotify_init1", "inotify_add_watch", "inotify_rm_watch"):
            getattr(libc, name)
    except (OSError, AttributeError):
        return None
    libc.inotify_add_watch.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
    return libc


class LogWatch:
    """Per-path events that inotify sets whenever the file is written. One instance
    per worker; use it from the event loop only."""

    def __init__(self) -> None:
        self._libc = _inotify()
        self._fd: int | None = None
        self._followers: dict[int, set[asyncio.Event]] = {}  # by watch descriptor

    @property
    def watching(self) -> int:
        """How many files are watched now."""
        return len(self._followers)

    @contextmanager
    def growth(self, path: Path) -> Iterator[asyncio.Event | None]:
        """An event set after each write to `path` (clear it before reading); None
        when the file cannot be watched: then poll."""
        watch = self._add(path)
        if watch is None:
            yield None
            return
        wd, followers = watch
        event = asyncio.Event()
        followers.add(event)
        try:
            yield event
        finally:
            followers.discard(event)
            if not followers and self._followers.get(wd) is followers:
                self._remove(wd)
            self._close_if_unused()

    def _add(self, path: Path) -> tuple[int, set[asyncio.Event]] | None:
        if self._libc is None or not self._open():
            return None
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(path), _WATCHED)
        if wd < 0:
            code = ctypes.get_errno()
            if code != errno.ENOENT:  # ENOSPC: the user's watch limit; the caller polls
                logger.warning("cannot watch log %s: %s", path, os.strerror(code))
            self._close_if_unused()
            return None
        return wd, self._followers.setdefault(wd, set())

    def _open(self) -> bool:
        if self._fd is not None:
            return True
        if self._libc is None:
            return False
        fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            logger.warning("inotify unavailable (%s): log followers poll",
                           os.strerror(ctypes.get_errno()))  # fmt: skip
            self._libc = None  # do not try again for every follower
            return False
        self._fd = fd
        asyncio.get_running_loop().add_reader(fd, self._on_events)
        return True

    def _remove(self, wd: int) -> None:
        del self._followers[wd]
        if self._libc is not None and self._fd is not None:
            self._libc.inotify_rm_watch(self._fd, wd)  # EINVAL once the kernel dropped it

    def _close_if_unused(self) -> None:
        if self._fd is not None and not self._followers:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None

    def _on_events(self) -> None:
        for wd, mask in self._drain():
            for event in self._followers.get(wd, ()):
                event.set()
            if mask & _IN_IGNORED:  # the number may be reused for another file
                self._followers.pop(wd, None)

    def _drain(self) -> Iterator[tuple[int, int]]:
        """(watch descriptor, mask) of every queued event."""
        while self._fd is not None:
            try:
                data = os.read(self._fd, _READ)
            except BlockingIOError:
                return
            at = 0
            while at + _EVENT.size <= len(data):
                wd, mask, _, name_len = _EVENT.unpack_from(data, at)
                at += _EVENT.size + name_len
                yield wd, mask
