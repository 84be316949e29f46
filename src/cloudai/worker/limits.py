"""What bounds a worker's attempts and its spool, and how it shuts down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ShutdownMode = Literal["stop", "drain", "leave"]


@dataclass(frozen=True, slots=True)
class Recovered:
    """What a start found of an earlier process of this worker."""

    resent: int = 0  # results that go out again
    adopted: int = 0  # attempts whose containers still run (or ended unseen), followed
    cleared: int = 0  # attempts that never ended and have nothing left running


@dataclass(frozen=True, slots=True)
class AttemptLimits:
    """What one attempt may leave: its log (worker.logcap) and its /output files."""

    max_log_bytes: int = 1024**3
    max_output_files: int = 1000
    max_output_bytes: int = 10 * 1024**3


@dataclass(frozen=True, slots=True)
class SpoolLimits:
    max_age_s: float = 24 * 3600.0
    max_bytes: int = 20 * 1024**3
    stop_report_s: float = 10.0  # how long a stopping worker tries to report; then spooled
