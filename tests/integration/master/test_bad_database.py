"""`cloudai master` on a database it cannot use: one `error:` line, exit 1, the URL
shown without its password, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def master_on(db: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cloudai", "master", "--db", db, "--data-dir",
               str(data_dir), "--http-port", "0", "--grpc-port", "0"]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("db", "shown"),
    [
        ("postgresql://nobody:pw-s3cret@127.0.0.1:1/x",
         "cannot open the database postgresql+psycopg://nobody:***@127.0.0.1:1/x"),
        ("mysql://x", "unsupported database URL 'mysql://x'"),
        ("mysql://root:pw-s3cret@db/x", "unsupported database URL 'mysql://root:***@db/x'"),
        ("postgresql://u:pw-s3cret@db:port/x", "malformed database URL 'postgresql://u:***@db:port/x'"),
    ],
)  # fmt: skip
def test_a_database_it_cannot_use_is_one_error_line(db: str, shown: str, tmp_path: Path) -> None:
    result = master_on(db, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and shown in errors[0], output
    assert "Traceback" not in output and "pw-s3cret" not in output
    assert len(output.splitlines()) <= 3, output  # the error, at most a log line or two
