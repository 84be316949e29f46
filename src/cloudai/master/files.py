"""Output files and task logs on the master's disk.

Layout under the data directory:
    files/<user_id>/<task_id>/<relative path>     a task's /output, as uploaded
    logs/<task_id>/<epoch>.log                    each attempt's full log
    logs/<task_id>/<epoch>.log.idx                its streams and times (domain.log_index)
Every path component that came over the wire is validated here, the one place
that turns names into paths; metadata in the store is what listing and download trust.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from cloudai.domain.errors import InvalidRequest, NotFound
from cloudai.domain.log_index import CLOUDAI, Segment, parse

MAX_PATH = 1024
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def safe_id(value: str) -> str:
    """Ids become directory names: allow a conservative alphabet only."""
    if not _SAFE_ID.match(value) or value in (".", ".."):
        raise InvalidRequest(f"invalid identifier {value!r}")
    return value


def safe_relative_path(raw: str) -> PurePosixPath:
    """A relative POSIX path with no empty, '.', or '..' parts and no NUL."""
    if not raw or len(raw) > MAX_PATH or "\x00" in raw or raw.startswith("/"):
        raise InvalidRequest(f"invalid file path {raw!r}")
    path = PurePosixPath(raw)
    if any(part in ("", ".", "..") for part in raw.split("/")):
        raise InvalidRequest(f"invalid file path {raw!r}")
    return path


@dataclass(slots=True)
class IncomingFile:
    """One file being received: written to a temp name through one open handle, hashed
    as it is written, renamed when verified; closed by `commit` or `discard`."""

    rel_path: str
    final: Path
    temp: Path
    handle: BinaryIO
    digest: hashlib._Hash
    size: int = 0


class FileArea:
    def __init__(self, data_dir: Path) -> None:
        self._files = data_dir / "files"
        self._logs = data_dir / "logs"

    def task_dir(self, user_id: str, task_id: str) -> Path:
        return self._files / safe_id(user_id) / safe_id(task_id)

    def output_path(self, user_id: str, task_id: str, rel_path: str) -> Path:
        return self.task_dir(user_id, task_id).joinpath(*safe_relative_path(rel_path).parts)

    def log_path(self, task_id: str, epoch: int) -> Path:
        return self._logs / safe_id(task_id) / f"{int(epoch)}.log"

    def begin(self, final: Path, rel_path: str) -> IncomingFile:
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Not derived from the final name: a long name plus a suffix would pass the
        # filesystem's name limit.
        temp = final.with_name(f".incoming-{uuid.uuid4().hex[:16]}")
        return IncomingFile(rel_path, final, temp, temp.open("xb"), hashlib.sha256())

    @staticmethod
    def append(incoming: IncomingFile, data: bytes) -> None:
        incoming.handle.write(data)
        incoming.digest.update(data)
        incoming.size += len(data)

    @staticmethod
    def commit(incoming: IncomingFile, sha256: str) -> str:
        """Verify and rename into place; a mismatch discards it (InvalidRequest)."""
        incoming.handle.close()
        digest = incoming.digest.hexdigest()
        if sha256 and sha256 != digest:
            incoming.temp.unlink(missing_ok=True)
            raise InvalidRequest(f"checksum mismatch for {incoming.rel_path}")
        os.replace(incoming.temp, incoming.final)
        return digest

    @staticmethod
    def discard(incoming: IncomingFile) -> None:
        """A file not to be kept (skipped, refused, or its stream broke): no partial
        file, no open handle left behind."""
        incoming.handle.close()
        incoming.temp.unlink(missing_ok=True)

    def log_index_path(self, task_id: str, epoch: int) -> Path:
        """Beside the log: which stream each of its bytes is of (`domain.log_index`)."""
        return self._logs / safe_id(task_id) / f"{int(epoch)}.log.idx"

    def read_log_index(self, task_id: str, epoch: int) -> list[Segment]:
        """The stored log's segments; none when its worker sent no index."""
        try:
            return parse(self.log_index_path(task_id, epoch).read_text("ascii", "replace"))
        except FileNotFoundError:
            return []

    def note_in_log(self, task_id: str, epoch: int, lines: list[str]) -> None:
        """Append `[cloudai] …` lines to the stored log (what could not be stored);
        the log begins here when the task wrote none."""
        path = self.log_path(task_id, epoch)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with path.open("a", encoding="utf-8") as log:
            index = self.log_index_path(task_id, epoch)
            if index.exists():  # these lines are CloudAI's, not the task's
                at_ms = int(time.time() * 1000)
                with index.open("a", encoding="ascii") as segments:
                    segments.write(Segment(log.tell(), CLOUDAI, at_ms).line())
            log.writelines(f"[cloudai] {line}\n" for line in lines)

    def read_log(self, task_id: str, epoch: int, offset: int, limit: int) -> tuple[bytes, int]:
        """Bytes of the stored log from `offset` (at most `limit`) and the log's size."""
        path = self.log_path(task_id, epoch)
        try:
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if offset >= size:  # a seek far past the end fails on some filesystems
                    return b"", size
                handle.seek(max(offset, 0))
                return handle.read(limit), size
        except FileNotFoundError as exc:
            raise NotFound(f"no stored log for {task_id}") from exc
