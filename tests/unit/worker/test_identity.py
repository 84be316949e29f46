"""A worker's identity is made once per data directory and remembers its cluster."""

from __future__ import annotations

from pathlib import Path

from cloudai.worker.identity import IDENTITY_FILE, load_identity


def test_the_instance_id_is_made_once_and_kept(tmp_path: Path) -> None:
    first = load_identity(tmp_path, "w1")
    assert first.instance_id.startswith("instance-") and first.cluster_id == ""
    again = load_identity(tmp_path, "w1")
    assert again.instance_id == first.instance_id
    assert load_identity(tmp_path / "elsewhere", "w1").instance_id != first.instance_id


def test_joining_a_cluster_is_remembered(tmp_path: Path) -> None:
    identity = load_identity(tmp_path, "w1")
    identity.joined("cluster-abc")
    assert load_identity(tmp_path, "w1").cluster_id == "cluster-abc"
    identity.joined("")  # a master that names no cluster changes nothing
    assert load_identity(tmp_path, "w1").cluster_id == "cluster-abc"
    assert (tmp_path / IDENTITY_FILE).exists()
