"""Requests no worker could ever fit are found once per request, against every
registered worker's total (draining and cordoned ones count: they may reopen)."""

from __future__ import annotations

from cloudai.scheduling.feasibility import never_fitting
from tests.unit.scheduling.builders import res, worker


def test_only_requests_above_every_workers_total_are_left_out() -> None:
    workers = [worker("w1", cpu=4), worker("w2", cpu=8, gpu=1, schedulable=False)]
    found = never_fitting([res(cpu=2), res(cpu=8, gpu=1), res(cpu=16), res(gpu=2)], workers)
    assert set(found) == {res(cpu=16), res(gpu=2)}
    assert found[res(cpu=16)].startswith("no registered worker could ever fit: asks 16 CPU")
    assert "largest worker: 8 CPU" in found[res(cpu=16)]


def test_with_no_worker_nothing_is_left_out() -> None:
    assert never_fitting([res(cpu=512)], []) == {}
