"""CLOUDAI_CORS_ORIGINS: a comma list of exact origins, none by default; anything that
is not an origin (a path, a wildcard, no scheme) is refused at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cloudai.config import MasterSettings


def test_none_by_default() -> None:
    assert MasterSettings().cors_origin_list() == ()


def test_the_environment_lists_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDAI_CORS_ORIGINS", " http://localhost:3000, https://ui.example:8443,")
    assert MasterSettings().cors_origin_list() == (
        "http://localhost:3000",
        "https://ui.example:8443",
    )


@pytest.mark.parametrize("value", ["*", "http://*", "localhost:3000", "http://ui.example/"])
def test_what_is_not_an_origin_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CLOUDAI_CORS_ORIGINS", value)
    with pytest.raises(ValidationError, match="is not an origin"):
        MasterSettings()
