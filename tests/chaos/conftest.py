"""Fixtures of the chaos suite: a cluster of real processes, torn down whatever happens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import ChaosCluster


@pytest.fixture
def chaos(tmp_path: Path) -> Iterator[ChaosCluster]:
    """A cluster not started yet: the test sets its timings, then calls `start`."""
    cluster = ChaosCluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.close()
