"""Where CloudAI keeps things: XDG for people, systemd's state directory for services,
CLOUDAI_CONFIG_DIR / CLOUDAI_DATA_DIR over both."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cloudai.cli.client import config_dir
from cloudai.config import MasterSettings, WorkerSettings


def home() -> Path:
    return Path(os.environ["HOME"])


def test_config_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_dir() == home() / ".config" / "cloudai"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    assert config_dir() == home() / ".config" / "cloudai"
    monkeypatch.setenv("XDG_CONFIG_HOME", "/etc/xdg-user")
    assert config_dir() == Path("/etc/xdg-user/cloudai")
    monkeypatch.setenv("CLOUDAI_CONFIG_DIR", "/opt/cfg")
    assert config_dir() == Path("/opt/cfg")


def test_data_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MasterSettings().data_dir == home() / ".local" / "share" / "cloudai"
    assert WorkerSettings().data_dir == home() / ".local" / "share" / "cloudai" / "worker"
    monkeypatch.setenv("XDG_DATA_HOME", "not/absolute")
    assert MasterSettings().data_dir == home() / ".local" / "share" / "cloudai"
    monkeypatch.setenv("XDG_DATA_HOME", "/data")
    assert MasterSettings().data_dir == Path("/data/cloudai")
    assert WorkerSettings().data_dir == Path("/data/cloudai/worker")
    # Under systemd (StateDirectory=cloudai other): the unit's own directory, the first one.
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/cloudai:/var/lib/other")
    assert MasterSettings().data_dir == Path("/var/lib/cloudai")
    assert WorkerSettings().data_dir == Path("/var/lib/cloudai")
    monkeypatch.setenv("CLOUDAI_DATA_DIR", "/srv/cloudai")
    assert MasterSettings().data_dir == Path("/srv/cloudai")
    assert WorkerSettings().data_dir == Path("/srv/cloudai")
