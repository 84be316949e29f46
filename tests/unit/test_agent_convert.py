"""The agent protocol's conversions (a snapshot survives the wire), and the `cloudai
agent` command's flags."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from typer.testing import CliRunner

from cloudai import entry
from cloudai._proto import agent_pb2 as pb
from cloudai.domain.resources import Resources
from cloudai.launch import commands
from cloudai.rpc import agent_convert as convert
from cloudai.scheduling.registry import SCHEDULER_NAMES
from cloudai.scheduling.snapshot import (
    Placement,
    QueuedTaskView,
    RunningView,
    Snapshot,
    WorkerView,
)

SNAPSHOT = Snapshot(
    now=1_767_225_600.25,
    workers=(
        WorkerView("w1", Resources(8, 16, 100, 2), Resources(6.5, 12, 90, 1), True, 0.3, 0.4, 0.5),
        WorkerView("w2", Resources(2, 4, 10), Resources(2, 4, 10), schedulable=False),
    ),
    queue=(
        QueuedTaskView("t1", "u1", Resources(1, 0.5, 1), 1_767_225_500.5, 0, "cpu-light", 2.0),
        QueuedTaskView(
            "t2", "u2", Resources(4, 8, 10, 1), 1_767_225_501.0, -3, "gpu-training", 3.5, "w1"
        ),
    ),
    running=(RunningView("t0", "w1", "u1", Resources(1.5, 4, 10, 1), 1_767_225_000.0, "mixed"),),
    usage={"u1": 1234.5, "u2": 0.25},
    tau={"cpu-light": 30.0, "gpu-training": 3600.0},
    cursor=1,
    max_running_per_user=4,
)


@pytest.mark.parametrize("limit", [4, None])
def test_a_snapshot_survives_the_wire(limit: int | None) -> None:
    sent = Snapshot(**{**_fields(SNAPSHOT), "max_running_per_user": limit})
    wire = pb.ClusterState.FromString(convert.cluster_state_to_proto(sent).SerializeToString())
    assert convert.snapshot_from_proto(wire, cursor=1) == sent


def test_workers_carry_their_state_in_words() -> None:
    state = convert.cluster_state_to_proto(SNAPSHOT, {"w1": "active", "w2": "draining"})
    assert [(w.status, w.schedulable) for w in state.workers] == [
        ("active", True),
        ("draining", False),
    ]
    # Without a word for it, the state says at least whether the worker takes work.
    unnamed = convert.cluster_state_to_proto(SNAPSHOT)
    assert [w.status for w in unnamed.workers] == ["active", "unschedulable"]
    assert unnamed.pending_tasks[0].target_worker_id == ""


def test_placements_and_answers() -> None:
    placements = [Placement("t1", "w1"), Placement("t2", "w2")]
    assert convert.placements_from_proto(convert.assignments_to_proto(placements)) == placements
    ack = convert.ack_to_proto([(placements[0], True, ""), (placements[1], False, "no room")])
    assert (ack.success, ack.message) == (False, "1 of 2 accepted, 1 refused")
    assert [(r.task_id, r.accepted, r.reason) for r in ack.results] == [
        ("t1", True, ""),
        ("t2", False, "no room"),
    ]
    assert convert.ack_to_proto([(placements[0], True, "")]).message == "all 1 accepted"
    assert convert.ack_to_proto([]).success


def test_the_agent_command_offers_every_builtin_policy() -> None:
    assert get_args(commands.AgentPolicy) == SCHEDULER_NAMES


def test_the_agent_command_needs_a_token_and_passes_its_flags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cloudai.agent import main

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def run(*args: Any, **kwargs: Any) -> int:
        calls.append((args, kwargs))
        return 0

    monkeypatch.setattr(main, "run", run)
    runner = CliRunner()
    missing = runner.invoke(
        entry.build(), ["agent", "--master", "m:1"], env={"CLOUDAI_AGENT_TOKEN": None}
    )
    assert missing.exit_code == 2 and "agent token is required" in missing.output
    env = {"CLOUDAI_MASTER": "m:1", "CLOUDAI_AGENT_TOKEN": "secret"}
    ran = runner.invoke(entry.build(), ["agent", "--policy", "spread", "--interval", "2"], env=env)
    assert ran.exit_code == 0, ran.output
    assert calls == [
        (("m:1", "secret"), {"policy": "spread", "interval_s": 2.0, "log_level": "info"})
    ]


def _fields(snapshot: Snapshot) -> dict[str, Any]:
    return {name: getattr(snapshot, name) for name in Snapshot.__dataclass_fields__}
