"""What a worker is told, keeps and reports about one attempt, as plain values.

The worker's runner and executors work on these; protobuf is built and read from them
only in `rpc/convert.py`. They are also what a worker keeps on disk (the spool), so
every field is a plain JSON-friendly value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cloudai.domain.resources import Resources
from cloudai.domain.task import AttemptReport

# What a worker reports of an attempt's start-up, in order: steps before the start are
# recorded as task events (the status unchanged); "started" makes the task running.
PHASE_PULLING = "pulling"  # fetching the image
PHASE_CREATING = "creating"  # creating the container
PHASE_STARTED = "started"


@dataclass(frozen=True, slots=True)
class Assignment:
    """One attempt of a task, as the master hands it to a worker."""

    task_id: str
    epoch: int
    image: str
    command: str | list[str] | None  # str: /bin/sh -c; list: argv; None: image default
    request: Resources
    user_id: str = ""
    task_name: str = ""
    submitted_at: int = 0  # unix seconds
    env: dict[str, str] = field(default_factory=dict)
    timeout_s: float | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.task_id, self.epoch)


@dataclass(frozen=True, slots=True)
class HeldAttempt:
    """An attempt a worker lists in its heartbeats until the master has its result."""

    task_id: str
    epoch: int
    started: bool  # the container (or process) really runs, or ran
    request: Resources
    cpu_used: float | None = None  # cores it uses now; None: not measured
    memory_used_gb: float | None = None  # GiB it uses now


@dataclass(frozen=True, slots=True)
class FinishedAttempt:
    """How an attempt ended, with what the master records beside the outcome."""

    report: AttemptReport
    log_tail: str = ""
    output_files: tuple[str, ...] = ()
    started_at_ms: int = 0
    finished_at_ms: int = 0


@dataclass(frozen=True, slots=True)
class FilePiece:
    """One chunk of an uploaded file (the log or an output)."""

    task_id: str
    epoch: int
    path: str  # relative, posix
    data: bytes
    last_chunk: bool
    last_file: bool
    kind: str  # "log" or "output"
    sha256: str = ""  # on the last chunk of an output
    user_id: str = ""
    task_name: str = ""
    submitted_at: int = 0
