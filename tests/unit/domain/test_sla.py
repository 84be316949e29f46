import math

import pytest

from cloudai.domain.resources import Resources
from cloudai.domain.sla import (
    DEFAULT_TAU,
    TASK_TYPES,
    TauTable,
    charge,
    deadline,
    decay,
    ema_update,
    infer_task_type,
    met_deadline,
    resource_weight,
    tau_for,
)


def test_the_six_types_have_the_reference_defaults() -> None:
    assert set(TASK_TYPES) == set(DEFAULT_TAU)
    assert dict(DEFAULT_TAU) == {
        "cpu-light": 5,
        "cpu-heavy": 15,
        "memory-heavy": 20,
        "gpu-inference": 10,
        "gpu-training": 60,
        "mixed": 10,
    }


@pytest.mark.parametrize("tag", TASK_TYPES)
def test_a_known_tag_is_used_as_given(tag: str) -> None:
    assert infer_task_type(tag, Resources(cpu=64, gpu=8)) == (tag, False)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (Resources(cpu=8, memory_gb=1, gpu=4), "gpu-training"),
        (Resources(cpu=4, memory_gb=1, gpu=4), "gpu-inference"),  # CPU > 4 is needed too
        (Resources(cpu=8, memory_gb=1, gpu=2), "gpu-inference"),  # GPU > 2 is needed too
        (Resources(cpu=1, memory_gb=32, gpu=1), "gpu-inference"),
        (Resources(cpu=8, memory_gb=16), "memory-heavy"),
        (Resources(cpu=8, memory_gb=8), "cpu-heavy"),
        (Resources(cpu=4, memory_gb=8), "cpu-light"),
        (Resources(cpu=0.5), "cpu-light"),
        (Resources(), "mixed"),
    ],
)
def test_other_tags_get_the_reference_inference(request_: Resources, expected: str) -> None:
    assert infer_task_type("memory-light", request_) == (expected, True)
    assert infer_task_type("", request_) == (expected, True)
    assert infer_task_type(None, request_) == (expected, True)


def test_deadline_counts_from_submission() -> None:
    assert deadline(1000.0, 2.5, 10.0) == 1025.0
    assert met_deadline(1025.0, 1025.0)
    assert not met_deadline(1025.1, 1025.0)


def test_tau_for_prefers_learned_values_and_treats_unknown_types_as_mixed() -> None:
    assert tau_for("cpu-heavy") == 15
    assert tau_for("cpu-heavy", {"cpu-heavy": 3.0}) == 3.0
    assert tau_for("something-else") == DEFAULT_TAU["mixed"]


def test_ema_moves_a_fifth_of_the_way_by_default() -> None:
    assert ema_update(10.0, 20.0) == pytest.approx(12.0)
    assert ema_update(10.0, 20.0, weight=1.0) == 20.0
    with pytest.raises(ValueError, match="weight"):
        ema_update(10.0, 20.0, weight=0.0)


def test_tau_table_learns_per_type_without_mutating() -> None:
    table = TauTable()
    learned = table.observe("cpu-light", 15.0).observe("cpu-light", 15.0)
    assert table.tau("cpu-light") == 5.0
    assert learned.tau("cpu-light") == pytest.approx(0.2 * 15 + 0.8 * (0.2 * 15 + 0.8 * 5))
    assert learned.tau("gpu-training") == 60.0
    assert learned.as_dict()["cpu-light"] == learned.tau("cpu-light")
    with pytest.raises(ValueError):
        table.observe("mixed", -1.0)


def test_tau_table_converges_to_a_steady_runtime() -> None:
    table = TauTable()
    for _ in range(100):
        table = table.observe("gpu-training", 30.0)
    assert table.tau("gpu-training") == pytest.approx(30.0, abs=1e-6)


def test_resource_weight_counts_cores_memory_quarters_and_gpus() -> None:
    assert resource_weight(Resources(cpu=2, memory_gb=8, storage_gb=500, gpu=1)) == 2 + 2 + 8


def test_decay_halves_per_half_life() -> None:
    assert decay(100.0, 60.0, 60.0) == pytest.approx(50.0)
    assert decay(100.0, 120.0, 60.0) == pytest.approx(25.0)
    assert decay(100.0, 0.0, 60.0) == 100.0
    assert decay(100.0, -5.0, 60.0) == 100.0  # a clock step back never inflates usage
    with pytest.raises(ValueError, match="half-life"):
        decay(1.0, 1.0, 0.0)


def test_charge_adds_resource_seconds() -> None:
    assert charge(10.0, Resources(cpu=2, memory_gb=4), 3.0) == 10.0 + 3 * 3.0
    assert charge(10.0, Resources(cpu=2), -3.0) == 10.0
    assert math.isclose(charge(0.0, Resources(gpu=1), 0.5), 4.0)
