"""Every test here runs with no CLOUDAI_ or XDG variable from the developer's shell, and a
home directory of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudai.cli import contexts

_DIRS = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "STATE_DIRECTORY")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("CLOUDAI_") or name in _DIRS:
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(autouse=True)
def no_selected_context() -> Iterator[None]:
    """`--context` is remembered per process: no test sees another's."""
    contexts.select(None)
    yield
    contexts.select(None)
