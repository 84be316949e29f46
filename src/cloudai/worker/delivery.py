"""Shipping an ended attempt to the master: its log and outputs, then its result.

Every call has one explicit outcome, never an endless loop:

- nothing to ship (no /output files; the log and its index empty or missing): no
  upload at all; the result says so (`no_files`), and goes alone;
- the master is unreachable (`Unavailable`): retry with jittered backoff for as long
  as the result may be kept (`max_age_s` after the attempt ended);
- the master will not store the files (`InvalidRequest`: too large, a bad path): the
  result goes without them and its reason says so;
- the master's storage is full (`StorageFull`): a few tries, then the result goes
  without the files; an attempt that had succeeded fails with `output storage full`
  (also when a try in between failed otherwise: a full disk can abort the upload's
  stream with `INTERNAL` while the worker still sends);
- the files keep failing otherwise: a few tries, then the result goes without them;
  an attempt that had succeeded fails as an executor error (a counted retry: a new
  attempt may collect them). The result is never dropped for its files' sake;
- the master no longer wants the attempt (`Conflict`, `NotFound`: superseded,
  unknown, already final; `Forbidden`: the files of an attempt that is no longer the
  task's current one, which the master fences): dropped;
- the result itself keeps failing otherwise (a bug on either side): a few tries, then
  dropped, logged as an error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from cloudai.domain.attempts import Assignment, FilePiece, FinishedAttempt
from cloudai.domain.errors import (
    CloudAIError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    StorageFull,
    Unavailable,
)
from cloudai.domain.task import Failure, TaskStatus
from cloudai.worker.logcap import index_path
from cloudai.worker.master_link import MasterLink
from cloudai.worker.outputs import CollectedOutputs, OutgoingFile, UnusableFile

logger = logging.getLogger(__name__)

LOG_FILE_NAME = "task.log"
_BOUNDED_TRIES = 5
_BACKOFF_START_S = 0.2
_BACKOFF_MAX_S = 5.0


_Call = Callable[[], Awaitable[object]]


class _Expired(Exception):
    pass


class Delivery:
    def __init__(self, link: MasterLink, *, max_age_s: float) -> None:
        self._link = link
        self._max_age_s = max_age_s

    async def deliver(
        self, assignment: Assignment, finished: FinishedAttempt, outputs: CollectedOutputs,
        directory: Path,
    ) -> None:  # fmt: skip
        """Return once the master has the result, or it was given up (logged). Raises
        CancelledError if stopped first: the record stays on disk for the next start."""
        key = f"{assignment.task_id}/{assignment.epoch}"
        try:
            finished = await self._upload(assignment, finished, outputs, directory)
            await self._retrying(lambda: self._link.report(finished), finished, "result")
        except _Expired:
            logger.error("result of %s dropped: the master was unreachable too long", key)
        except (Conflict, NotFound, Forbidden) as exc:
            logger.warning("result of %s dropped: the master no longer wants it (%s)", key, exc)
        except CloudAIError as exc:
            logger.error("result of %s dropped after %d tries: %s", key, _BOUNDED_TRIES, exc)

    async def _upload(
        self, assignment: Assignment, finished: FinishedAttempt, outputs: CollectedOutputs,
        directory: Path,
    ) -> FinishedAttempt:  # fmt: skip
        """Send the files; the result to report (its reason tells of files not stored,
        or it says none were sent: nothing to ship is no upload at all)."""

        log_path = directory / LOG_FILE_NAME
        if await asyncio.to_thread(_nothing_to_ship, log_path, outputs):
            return _shipped_nothing(finished)
        try:
            await self._retrying(
                lambda: self._link.upload(_pieces(assignment, outputs, log_path)), finished, "files"
            )
        except InvalidRequest as exc:
            return _without_files(finished, f"output files not stored: {exc}")
        except StorageFull as exc:
            return _without_files(finished, f"output storage full: {exc}", Failure.STORAGE)
        except (Conflict, NotFound, Forbidden):  # the master no longer wants the attempt
            raise
        except CloudAIError as exc:
            return _without_files(finished, f"output files not stored: {exc}", Failure.EXECUTOR)
        return finished

    async def _retrying(self, call: _Call, finished: FinishedAttempt, what: str) -> None:
        """`call` until it succeeds: unreachable -> again (until the result expires);
        StorageFull and unknown errors -> again, at most _BOUNDED_TRIES times; the
        rest is raised at once."""
        delay, tries = _BACKOFF_START_S, 0
        full: StorageFull | None = None  # the reason to give, if any try saw a full disk
        while True:
            try:
                await call()
                return
            except Unavailable as exc:
                if time.time() - finished.finished_at_ms / 1000 > self._max_age_s:
                    raise _Expired from exc
                logger.warning("master unreachable (%s), %s will be sent again", exc, what)
            except (Conflict, NotFound, Forbidden, InvalidRequest):
                raise
            except CloudAIError as exc:
                tries += 1
                full = exc if isinstance(exc, StorageFull) else full
                if tries >= _BOUNDED_TRIES:
                    raise full or exc from None
                logger.warning("sending %s failed (%s); trying again", what, exc)
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # no lockstep retries
            delay = min(delay * 2, _BACKOFF_MAX_S)


def _without_files(
    finished: FinishedAttempt, note: str, failure: Failure | None = None
) -> FinishedAttempt:
    """The result sent without its files; with `failure`, a success becomes that failure."""
    report = dataclasses.replace(finished.report, reason=f"{finished.report.reason}; {note}")
    if failure is not None and report.outcome is TaskStatus.COMPLETED:
        report = dataclasses.replace(
            report, outcome=TaskStatus.FAILED, failure=failure, reason=note
        )
    return dataclasses.replace(finished, report=report, output_files=())


def _shipped_nothing(finished: FinishedAttempt) -> FinishedAttempt:
    """The result of an attempt with nothing to ship: no upload was sent, it says so."""
    report = dataclasses.replace(finished.report, no_files=True)
    return dataclasses.replace(finished, report=report, output_files=())


def _nothing_to_ship(log_path: Path, outputs: CollectedOutputs) -> bool:
    """No outputs, and the log and its index are missing or empty (the task printed
    nothing). Decided at each delivery, so a re-delivery after a restart decides again."""
    return (
        not outputs.files
        and _missing_or_empty(log_path)
        and _missing_or_empty(index_path(log_path))
    )


def _missing_or_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return True


async def _pieces(
    assignment: Assignment, outputs: CollectedOutputs, log_path: Path
) -> AsyncIterator[FilePiece]:
    """Every file's chunks; each file's last carries its SHA-256, of the bytes sent."""
    items: list[tuple[str, Path, str, int | None]] = [(LOG_FILE_NAME, log_path, "log", None)]
    segments = index_path(log_path)
    if await asyncio.to_thread(segments.exists):  # first: it is there once the log is
        items.insert(0, (segments.name, segments, "log_index", None))
    items += [(f.rel_path, f.path, "output", f.size) for f in outputs.files]
    for index, (rel, path, kind, limit) in enumerate(items):
        async for data, last, sha256 in _read_chunks(path, limit):
            yield FilePiece(
                task_id=assignment.task_id, epoch=assignment.epoch, path=rel, data=data,
                last_chunk=last, last_file=last and index == len(items) - 1, kind=kind,
                sha256=sha256, user_id=assignment.user_id,
                task_name=assignment.task_name, submitted_at=assignment.submitted_at,
            )  # fmt: skip


async def _read_chunks(path: Path, limit: int | None) -> AsyncIterator[tuple[bytes, bool, str]]:
    """(data, is_last, the file's SHA-256 with the last) read one chunk at a time, each
    byte read once; at most `limit` bytes (the size the caps counted). The next chunk is
    read (in a thread) while this one is sent. A file that can no longer be opened
    (gone, or swapped for a symlink since it was collected) is left out, logged."""
    try:
        outgoing = await asyncio.to_thread(OutgoingFile, path, limit)
    except (OSError, UnusableFile) as exc:
        logger.warning("%s not sent: %s", path, exc)
        return
    reading = _read_next(outgoing)
    try:
        while True:
            await asyncio.wait((reading,))  # not cancelled with the stream: see finally
            data, last = reading.result()
            if not last:
                reading = _read_next(outgoing)
            yield data, last, outgoing.sha256 if last else ""
            if last:
                return
    finally:  # one handle per file, closed once no read of it runs
        reading.add_done_callback(lambda done: _close(outgoing, done))


def _read_next(outgoing: OutgoingFile) -> asyncio.Task[tuple[bytes, bool]]:
    return asyncio.ensure_future(asyncio.to_thread(outgoing.read))


def _close(outgoing: OutgoingFile, last_read: asyncio.Task[tuple[bytes, bool]]) -> None:
    if not last_read.cancelled():
        last_read.exception()  # retrieved: a read the abandoned stream no longer wants
    outgoing.close()
