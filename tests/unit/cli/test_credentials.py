"""The CLI's credentials: stored by `login`, overridden by CLOUDAI_URL and CLOUDAI_TOKEN."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudai.cli.client import (
    DEFAULT_URL,
    CliError,
    Credentials,
    load_credentials,
    save_credentials,
)


def test_variables_override_the_stored_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLOUDAI_CONFIG_DIR", str(tmp_path))
    with pytest.raises(CliError, match="run `cloudai login` first"):
        load_credentials()
    monkeypatch.setenv("CLOUDAI_TOKEN", "api-token")
    assert load_credentials() == Credentials(DEFAULT_URL, "api-token")
    monkeypatch.setenv("CLOUDAI_URL", "http://m:9")
    assert load_credentials() == Credentials("http://m:9", "api-token")

    save_credentials(Credentials("http://stored:1", "stored-token"))
    assert load_credentials() == Credentials("http://m:9", "api-token")
    monkeypatch.delenv("CLOUDAI_URL")
    assert load_credentials() == Credentials("http://stored:1", "api-token")
    monkeypatch.delenv("CLOUDAI_TOKEN")
    assert load_credentials() == Credentials("http://stored:1", "stored-token")
