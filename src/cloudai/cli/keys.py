"""`q` leaves a live view (`status --watch`, `stats --watch`, `monitor`).

While such a view runs with a terminal on stdin (this process in its foreground), the
terminal is put in cbreak mode (keys come one by one, unechoed; Ctrl-C still interrupts)
and a thread reads them. `q` raises `Quit` in the main thread, also inside a blocking
request, and the view ends with status 0; Ctrl-C ends it with 130 as ever. However it
ends, the terminal's mode is restored."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

QUIT_KEYS = frozenset(b"qQ")
_SIGNAL = signal.SIGUSR1


class Quit(BaseException):  # like KeyboardInterrupt: not an error, not an Exception
    """`q` was pressed."""


class _Watcher:
    """Owns the terminal's mode, the SIGUSR1 handler and the reading thread while a view
    runs; `stop` undoes each, and may be called again after an interruption."""

    def __init__(self, fd: int, saved: list[Any]) -> None:
        self.fd = fd
        self.saved: list[Any] | None = saved
        self.previous: Any = signal.signal(_SIGNAL, _raise_quit)
        self.wake_r, self.wake_w = os.pipe()
        self.main = threading.main_thread().ident
        self.thread: threading.Thread | None = threading.Thread(
            target=self._read, name="cloudai-keys", daemon=True
        )
        # Ctrl-C must reach the main thread: a signal the kernel hands the reader would
        # leave a main thread blocked in a system call waiting. The reader is started
        # with them blocked (a thread inherits the mask), so none reaches it before it
        # runs; one that comes meanwhile waits for the main thread's unblocking.
        kept = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self.thread.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, kept)

    def _read(self) -> None:
        # The terminal reads without waiting (VMIN 0, see `_start`): a key that Ctrl-C
        # flushed between the poll and the read must not leave this thread blocked in
        # the read, where `stop` could not wake it. A hang-up ends the reading.
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        while True:
            events = dict(poller.poll())
            if self.wake_r in events or events.get(self.fd, 0) & ~select.POLLIN:
                return
            try:
                data = os.read(self.fd, 64)
            except OSError:
                return
            if QUIT_KEYS.intersection(data) and self.main is not None:
                signal.pthread_kill(self.main, _SIGNAL)
                return

    def stop(self) -> None:
        import termios

        signal.signal(_SIGNAL, signal.SIG_IGN)  # a `q` that is still on its way is dropped
        if self.thread is not None:
            os.write(self.wake_w, b"x")
            self.thread.join()
            self.thread = None
            os.close(self.wake_r)
            os.close(self.wake_w)
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            self.saved = None
        signal.signal(_SIGNAL, self.previous or signal.SIG_DFL)


def _raise_quit(signum: int, frame: FrameType | None) -> None:
    raise Quit


def _start() -> _Watcher | None:
    """A watcher, when stdin is this process's terminal and it is in the foreground."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        import termios
        import tty

        fd = sys.stdin.fileno()
        if not os.isatty(fd) or os.tcgetpgrp(fd) != os.getpgrp():
            return None
        saved = termios.tcgetattr(fd)
        tty.setcbreak(fd, termios.TCSANOW)
        mode = termios.tcgetattr(fd)
        mode[6][termios.VMIN], mode[6][termios.VTIME] = 0, 0
        termios.tcsetattr(fd, termios.TCSANOW, mode)
    except (ImportError, AttributeError, OSError, ValueError):
        return None
    return _Watcher(fd, saved)


@dataclass(slots=True)
class Pressed:
    quit: bool = False  # the block ended because `q` was pressed


@contextlib.contextmanager
def quit_on_q() -> Iterator[Pressed]:
    """Run the block until it ends, Ctrl-C (KeyboardInterrupt goes on up) or `q` (the
    block just ends, and the state it was given says so)."""
    pressed = Pressed()
    watcher = _start()
    try:
        try:
            yield pressed
        finally:
            if watcher is not None:
                watcher.stop()
    except Quit:
        pressed.quit = True
        if watcher is not None:
            watcher.stop()  # finishes what an interrupted stop left undone
