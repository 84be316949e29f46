"""The cluster's id lives in the database and in the master's data directory; a master
whose two halves name different clusters refuses to start and says how to mend it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudai.config import MasterSettings
from cloudai.domain.errors import Conflict
from cloudai.master.app import MasterApp
from cloudai.master.identity import CLUSTER_ID_FILE, cluster_identity
from cloudai.store.memory import InMemoryStore


async def test_first_start_writes_the_id_in_both_places(tmp_path: Path) -> None:
    store = InMemoryStore()
    made = await cluster_identity(store, tmp_path)
    assert made.startswith("cluster-")
    assert (tmp_path / CLUSTER_ID_FILE).read_text().strip() == made
    assert await cluster_identity(store, tmp_path) == made  # a restart keeps it


async def test_a_fresh_database_adopts_the_directorys_id(tmp_path: Path) -> None:
    made = await cluster_identity(InMemoryStore(), tmp_path)
    fresh = InMemoryStore()
    assert await cluster_identity(fresh, tmp_path) == made
    assert await fresh.claim_cluster_id("cluster-other") == made


async def test_a_new_directory_on_a_used_database_is_refused(tmp_path: Path) -> None:
    store = InMemoryStore()
    made = await cluster_identity(store, tmp_path / "first")
    with pytest.raises(Conflict, match=f"database belongs to {made}.*has no cluster id"):
        await cluster_identity(store, tmp_path / "second")
    assert not (tmp_path / "second" / CLUSTER_ID_FILE).exists()


async def test_two_clusters_halves_are_refused(tmp_path: Path) -> None:
    made = await cluster_identity(InMemoryStore(), tmp_path / "a")
    other = InMemoryStore()
    theirs = await cluster_identity(other, tmp_path / "b")
    with pytest.raises(Conflict, match=f"belongs to {theirs} .* belongs to {made}"):
        await cluster_identity(other, tmp_path / "a")


async def test_a_master_on_another_clusters_database_does_not_start(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first = MasterApp(MasterSettings(data_dir=tmp_path / "one", db=url, http_port=0, grpc_port=0))
    await first.start()
    await first.stop()
    second = MasterApp(MasterSettings(data_dir=tmp_path / "two", db=url, http_port=0, grpc_port=0))
    with pytest.raises(Conflict, match=f"write {first.cluster_id} into"):
        await second.start()
    assert second.http_port == 0  # nothing was served
