"""What the process commands print: secrets only for a person at a terminal."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pydantic import SecretStr

from cloudai.config import MasterSettings
from cloudai.launch import banner

PASSWORD, TOKEN = "pw-3f9a", "jt-77c1"


def master(tmp_path: Path, **settings: Any) -> Any:
    return SimpleNamespace(
        settings=MasterSettings(data_dir=tmp_path, grpc_port=0, **settings),
        secrets=SimpleNamespace(admin_password=PASSWORD, join_token=TOKEN),
        http_port=8181, grpc_port=50505, admin_password_works=True,
    )  # fmt: skip


def test_a_terminal_sees_the_secrets(tmp_path: Path) -> None:
    text = "\n".join(banner.master_lines(master(tmp_path), terminal=True))
    assert f"admin password: {PASSWORD}" in text
    assert f"cloudai worker --master 127.0.0.1:50505 --join-token {TOKEN}" in text
    up = "\n".join(banner.up_lines(master(tmp_path), ["local-1"], "docker", terminal=True))
    assert PASSWORD in up and "local-1 via docker (sandboxed)" in up


def test_a_journal_gets_where_they_are(tmp_path: Path) -> None:
    lines = banner.master_lines(master(tmp_path), terminal=False)
    text = "\n".join(lines)
    assert PASSWORD not in text and TOKEN not in text
    assert f"admin password: in {tmp_path / 'secrets' / 'admin-password'}" in text
    assert f"join token:     in {tmp_path / 'secrets' / 'join-token'}" in text
    assert "CLOUDAI_JOIN_TOKEN=<join token> cloudai worker --master 127.0.0.1:50505" in text
    up = banner.up_lines(master(tmp_path), ["local-1"], "process", terminal=False)
    assert PASSWORD not in "\n".join(up)
    assert "  workers:        local-1 via process (NOT sandboxed)" in up


def test_configured_secrets_are_named_by_their_variable(tmp_path: Path) -> None:
    given = master(tmp_path, admin_password=SecretStr(PASSWORD), join_token=SecretStr(TOKEN))
    text = "\n".join(banner.master_lines(given, terminal=False))
    assert PASSWORD not in text and TOKEN not in text
    assert "admin password: as set by CLOUDAI_ADMIN_PASSWORD" in text
    assert "join token:     as set by --join-token or CLOUDAI_JOIN_TOKEN" in text


def test_a_password_that_was_not_applied_is_said_so(tmp_path: Path) -> None:
    kept = master(tmp_path)
    kept.admin_password_works = False
    text = "\n".join(banner.up_lines(kept, ["w"], "docker", terminal=True))
    assert PASSWORD not in text and "unchanged" in text
