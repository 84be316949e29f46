"""A worker's result crosses the wire whole: `finished_to_proto` on the worker,
`report_from_proto` on the master, and nothing lost between them."""

from __future__ import annotations

import pytest

from cloudai._proto import cluster_pb2 as pb
from cloudai.domain.attempts import FinishedAttempt
from cloudai.domain.task import AttemptReport, Failure, TaskStatus
from cloudai.rpc import convert


def report(*, no_files: bool) -> AttemptReport:
    return AttemptReport(
        "t1", 2, "w1", TaskStatus.FAILED, 3, "exit code 3", False, 0, Failure.EXIT, no_files
    )


@pytest.mark.parametrize("no_files", [True, False])
def test_a_result_round_trips_with_whether_files_were_shipped(no_files: bool) -> None:
    sent = FinishedAttempt(report(no_files=no_files), finished_at_ms=5)
    wire = convert.finished_to_proto(sent).SerializeToString()
    assert convert.report_from_proto(pb.TaskResult.FromString(wire), "w1") == sent.report


def test_a_result_from_an_older_worker_means_its_files_were_uploaded() -> None:
    older = pb.TaskResult(task_id="t1", worker_id="w1", status="success", epoch=2)
    assert not convert.report_from_proto(older, "w1").no_files
