"""The login and registration settings: read from CLOUDAI_LOGIN_* and
CLOUDAI_REGISTRATION, handed to the throttle as given."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cloudai.config import MasterSettings
from cloudai.master.app import login_limits
from cloudai.master.throttle import ThrottleLimits


def test_defaults_are_the_throttles_defaults() -> None:
    settings = MasterSettings()
    assert login_limits(settings) == ThrottleLimits()
    assert settings.registration == "open"


def test_the_environment_sets_every_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "CLOUDAI_LOGIN_FAILURES_PER_PAIR": "4",
        "CLOUDAI_LOGIN_FAILURES_PER_ADDRESS": "40",
        "CLOUDAI_LOGIN_FAILURES_PER_ACCOUNT": "20",
        "CLOUDAI_LOGIN_WINDOW_S": "90",
        "CLOUDAI_LOGIN_TRACKED_MAX": "500",
        "CLOUDAI_REGISTRATION": "admin-only",
    }.items():
        monkeypatch.setenv(name, value)
    settings = MasterSettings()
    assert login_limits(settings) == ThrottleLimits(4, 40, 20, 90.0, 500)
    assert settings.registration == "admin-only"


@pytest.mark.parametrize(
    ("name", "value"),
    [("CLOUDAI_REGISTRATION", "closed"), ("CLOUDAI_LOGIN_FAILURES_PER_PAIR", "0")],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        MasterSettings()
