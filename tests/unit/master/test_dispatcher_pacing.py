"""After a pass that took long to plan, the dispatcher rests as long before the next:
the wakeups of that time share one pass. Time is a fake clock and a fake sleep."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from cloudai.master.applier import PlanApplier
from cloudai.master.dispatcher import MAX_REST_S, Dispatcher
from cloudai.master.lifecycle import Lifecycle
from cloudai.master.snapshot import SnapshotBuilder
from cloudai.scheduling.snapshot import Placement, Snapshot


class Timeline:
    """A clock that snapshots move on by `planning_s` each, and a sleep that records
    its rest and lets `during_rest` run (as submits would meanwhile)."""

    def __init__(self, planning_s: float) -> None:
        self.now, self.planning_s = 0.0, planning_s
        self.rests: list[float] = []
        self.passes = 0
        self.during_rest: list[Any] = []
        self.on_pass: dict[int, Any] = {}

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.rests.append(seconds)
        self.now += seconds
        for call in self.during_rest:
            call()

    async def build(self, cursor: int = 0) -> Snapshot:
        self.passes += 1
        self.now += self.planning_s
        if self.passes in self.on_pass:
            self.on_pass[self.passes]()
        return Snapshot(now=self.now, workers=(), queue=())

    def invalidate(self) -> None:
        pass


class NoPlacements:
    async def apply(self, placements: list[Placement], by: str) -> list[Any]:
        return []


def dispatcher_on(timeline: Timeline) -> Dispatcher:
    return Dispatcher(
        cast(SnapshotBuilder, timeline), cast(PlanApplier, NoPlacements()),
        cast(Lifecycle, None), scheduler="best_fit", interval_s=60.0,
        monotonic=timeline.monotonic, sleep=timeline.sleep,
    )  # fmt: skip


async def test_wakeups_during_the_rest_after_a_costly_pass_share_one_pass() -> None:
    timeline = Timeline(planning_s=0.03)
    dispatcher = dispatcher_on(timeline)
    timeline.during_rest = [dispatcher.wake] * 3  # three submits while it rests
    timeline.on_pass = {2: dispatcher.finish}
    dispatcher.wake()  # woken during the first pass
    await dispatcher.run()
    assert timeline.passes == 2  # not one per wakeup
    assert timeline.rests == [0.03]


async def test_a_cheap_pass_is_followed_at_once() -> None:
    timeline = Timeline(planning_s=0.0)
    dispatcher = dispatcher_on(timeline)
    timeline.on_pass = {3: dispatcher.finish}
    timeline.on_pass[1] = timeline.on_pass[2] = dispatcher.wake
    await dispatcher.run()
    assert timeline.passes == 3
    assert timeline.rests == []


async def test_the_rest_is_bounded() -> None:
    timeline = Timeline(planning_s=1.0)  # say, a snapshot read that stalled
    dispatcher = dispatcher_on(timeline)
    timeline.on_pass = {2: dispatcher.finish}
    dispatcher.wake()
    await dispatcher.run()
    assert timeline.rests == [MAX_REST_S]


async def test_the_time_spent_waiting_for_a_wakeup_counts_as_rest() -> None:
    timeline = Timeline(planning_s=0.03)
    dispatcher = dispatcher_on(timeline)

    def woken_later() -> None:  # runs once the loop waits for a wakeup
        timeline.now += 0.02
        dispatcher.wake()

    timeline.on_pass = {1: lambda: asyncio.get_running_loop().call_soon(woken_later),
                        2: dispatcher.finish}  # fmt: skip
    await dispatcher.run()
    assert timeline.passes == 2
    assert len(timeline.rests) == 1 and abs(timeline.rests[0] - 0.01) < 1e-9
