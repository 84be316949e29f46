"""Small file helpers shared by every process (no cloudai imports)."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` in one step: readers see the old file or the new one,
    never half of it. `mode` is set before any byte is written (secrets never show)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # open()'s mode is masked by the umask
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(temporary, path)
