"""Wire compatibility of the GPU counts with the reference protocol, which sends them as
double: WorkerInfo.total_gpu (#6), RunningTask.gpu_allocated (#5), Task.req_gpu (#7).

The reference's layout is written out here independently of proto/cluster.proto, so a
type change there (the int32 that read a reference peer's 2.0 as 0) fails these tests.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from cloudai._proto import cluster_pb2 as pb
from cloudai.domain.errors import InvalidRequest
from cloudai.domain.resources import Resources
from cloudai.domain.task import Task
from cloudai.rpc import convert
from cloudai.worker.runner import spec_for

_F = descriptor_pb2.FieldDescriptorProto
_STRING, _DOUBLE, _INT64 = _F.TYPE_STRING, _F.TYPE_DOUBLE, _F.TYPE_INT64

# The reference's fields 1..N of the three messages (names, numbers, types).
_REFERENCE: dict[str, list[tuple[str, int, Any]]] = {
    "WorkerInfo": [
        ("worker_id", 1, _STRING),
        ("worker_ip", 2, _STRING),
        ("total_cpu", 3, _DOUBLE),
        ("total_memory", 4, _DOUBLE),
        ("total_storage", 5, _DOUBLE),
        ("total_gpu", 6, _DOUBLE),
    ],
    "RunningTask": [
        ("task_id", 1, _STRING),
        ("cpu_allocated", 2, _DOUBLE),
        ("memory_allocated", 3, _DOUBLE),
        ("status", 4, _STRING),
        ("gpu_allocated", 5, _DOUBLE),
    ],
    "Task": [
        ("task_id", 1, _STRING),
        ("docker_image", 2, _STRING),
        ("command", 3, _STRING),
        ("req_cpu", 4, _DOUBLE),
        ("req_memory", 5, _DOUBLE),
        ("req_storage", 6, _DOUBLE),
        ("req_gpu", 7, _DOUBLE),
        ("target_worker_id", 8, _STRING),
        ("user_id", 9, _STRING),
        ("sla_multiplier", 10, _DOUBLE),
        ("task_type", 11, _STRING),
        ("task_name", 12, _STRING),
        ("submitted_at", 13, _INT64),
    ],
}


def _reference_classes() -> dict[str, Any]:  # dynamic classes: fields unknown to mypy
    # A private pool: the reference's package name must not clash with ours.
    file = descriptor_pb2.FileDescriptorProto(
        name="reference_cluster.proto", package="reference", syntax="proto3"
    )
    for name, fields in _REFERENCE.items():
        message = file.message_type.add(name=name)
        for field, number, kind in fields:
            message.field.add(name=field, number=number, type=kind, label=_F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"reference.{name}"))
        for name in _REFERENCE
    }


REF = _reference_classes()


def _double_field(number: int, value: float) -> bytes:
    """One field as protobuf writes a double: tag (wire type 1, 64-bit), 8 LE bytes."""
    return bytes([number << 3 | 1]) + struct.pack("<d", value)


# --- a reference peer's bytes, read by us


def test_hand_encoded_double_gpu_counts_are_read_whole() -> None:
    info = pb.WorkerInfo.FromString(_double_field(6, 2.0))
    running = pb.RunningTask.FromString(_double_field(5, 1.0))
    task = pb.Task.FromString(_double_field(7, 3.0))
    assert convert.resources_from_worker_info(info).gpu == 2
    assert convert.allocated_gpus_from_proto(running) == 1
    assert convert.task_gpus_from_proto(task) == 3


def test_reference_worker_info_decodes_to_whole_gpus() -> None:
    ref = REF["WorkerInfo"](
        worker_id="w1", worker_ip="10.0.0.1:50052", total_cpu=8.0, total_memory=16.0,
        total_storage=100.0, total_gpu=2.0,
    )  # fmt: skip
    total = convert.resources_from_worker_info(pb.WorkerInfo.FromString(ref.SerializeToString()))
    assert total == Resources(8.0, 16.0, 100.0, 2)
    assert type(total.gpu) is int


def test_reference_running_task_decodes_to_whole_gpus() -> None:
    ref = REF["RunningTask"](task_id="t1", cpu_allocated=1.0, status="running", gpu_allocated=1.0)
    item = pb.RunningTask.FromString(ref.SerializeToString())
    gpus = convert.allocated_gpus_from_proto(item)
    assert gpus == 1 and type(gpus) is int
    assert convert.running_from_proto([item]) == [("t1", 0, True)]


def test_reference_task_decodes_to_whole_gpus(tmp_path: Path) -> None:
    ref = REF["Task"](task_id="t1", docker_image="img", command="true", req_gpu=3.0)
    message = pb.Task.FromString(ref.SerializeToString())
    assert convert.task_gpus_from_proto(message) == 3
    spec = spec_for(
        convert.assignment_from_proto(message), tmp_path
    )  # the worker's own read of an assignment
    assert spec.gpu == 3 and type(spec.gpu) is int


# --- our bytes, read by a reference peer


def test_our_task_reads_as_double_in_the_reference_layout() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    task = Task(
        task_id="t1", user_id="u1", name="n", docker_image="img", command="true",
        request=Resources(1, 0.5, 1, 2), tag="", k_value=2.0, created_at=at, updated_at=at,
    )  # fmt: skip
    ref = REF["Task"].FromString(convert.task_to_proto(task).SerializeToString())
    assert ref.req_gpu == 2.0
    assert ref.req_cpu == 1.0 and ref.task_id == "t1"


def test_our_worker_info_and_running_task_read_as_double() -> None:
    info = pb.WorkerInfo(worker_id="w1", total_gpu=convert.gpus_to_wire(2))
    running = pb.RunningTask(task_id="t1", gpu_allocated=convert.gpus_to_wire(2))
    assert REF["WorkerInfo"].FromString(info.SerializeToString()).total_gpu == 2.0
    assert REF["RunningTask"].FromString(running.SerializeToString()).gpu_allocated == 2.0
    assert _double_field(6, 2.0) in info.SerializeToString()


# --- counts that are not whole GPUs are refused where they come in

_BAD = [1.5, -1.0, math.nan, math.inf, -math.inf, 2.0**31]


@pytest.mark.parametrize("value", _BAD)
def test_worker_info_with_a_bad_gpu_count_is_refused(value: float) -> None:
    info = pb.WorkerInfo.FromString(REF["WorkerInfo"](total_gpu=value).SerializeToString())
    with pytest.raises(InvalidRequest, match=r"WorkerInfo\.total_gpu must be a whole number"):
        convert.resources_from_worker_info(info)


@pytest.mark.parametrize("value", _BAD)
def test_running_task_with_a_bad_gpu_count_is_refused(value: float) -> None:
    item = pb.RunningTask.FromString(
        REF["RunningTask"](task_id="t1", gpu_allocated=value).SerializeToString()
    )
    with pytest.raises(InvalidRequest, match=r"RunningTask\.gpu_allocated of 't1'"):
        convert.running_from_proto([item])


@pytest.mark.parametrize("value", _BAD)
def test_task_with_a_bad_gpu_count_is_refused(value: float, tmp_path: Path) -> None:
    message = pb.Task.FromString(REF["Task"](task_id="t1", req_gpu=value).SerializeToString())
    with pytest.raises(InvalidRequest, match=r"Task\.req_gpu must be a whole number"):
        convert.task_gpus_from_proto(message)
    with pytest.raises(InvalidRequest):
        spec_for(convert.assignment_from_proto(message), tmp_path)


def test_the_refusal_names_the_value() -> None:
    with pytest.raises(InvalidRequest, match=r"got 1\.5"):
        convert.gpus_from_wire(1.5, "Task.req_gpu")
    assert convert.gpus_from_wire(-0.0, "Task.req_gpu") == 0
    assert convert.gpus_from_wire(float(2**31 - 1), "Task.req_gpu") == 2**31 - 1
