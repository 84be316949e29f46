"""The master's launchers collect the young generation less often (long-lived objects
made the default thresholds pause it ~110 ms every few seconds at 2,000 workers)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from cloudai.config import MasterSettings
from cloudai.launch import serve


class _Refused(Exception):
    pass


class _MasterThatWillNotStart:
    def __init__(self, settings: MasterSettings) -> None:
        self.settings = settings

    async def start(self) -> None:
        raise _Refused(gc.get_threshold())


@pytest.fixture
def thresholds() -> Iterator[None]:
    kept = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*kept)


@pytest.mark.usefixtures("thresholds")
async def test_the_master_starts_with_the_tuned_thresholds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serve, "MasterApp", _MasterThatWillNotStart)
    with pytest.raises(_Refused) as started:
        await serve.run_master(MasterSettings())
    assert started.value.args[0] == (20_000, 20, 20)
