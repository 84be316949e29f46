"""The cluster's identity, kept in two places that must agree: the database and the
master's data directory (which holds the outputs and logs the database lists).

A master started with one data directory on another cluster's database would split
the cluster: files listed in the database live in the other directory. The id is made
at first start; workers label their containers with it, so two clusters on one Docker
daemon never touch each other's tasks.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from cloudai.domain.errors import Conflict
from cloudai.fileutil import write_atomically
from cloudai.ports import Store

CLUSTER_ID_FILE = "cluster-id"


def new_cluster_id() -> str:
    return f"cluster-{uuid.uuid4().hex[:12]}"


async def cluster_identity(store: Store, data_dir: Path) -> str:
    """The cluster's id, agreed by the database and `data_dir` (written to whichever
    lacks it); Conflict when they name different clusters."""
    path = data_dir / CLUSTER_ID_FILE
    kept = path.read_text().strip() if path.exists() else None
    candidate = kept or new_cluster_id()
    stored = await store.claim_cluster_id(candidate)
    if stored != candidate:
        raise Conflict(_mismatch(path, kept, stored))
    if kept is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, f"{stored}\n".encode())
    return stored


def _mismatch(path: Path, kept: str | None, stored: str) -> str:
    here = f"belongs to {kept}" if kept else "has no cluster id"
    return (
        f"the database belongs to {stored} but the data directory {path.parent} {here}: "
        f"start the master with the data directory made with this database (its "
        f"{CLUSTER_ID_FILE} file reads {stored}), or with that directory's own database. "
        f"If that directory is lost, write {stored} into {path} to adopt this database "
        "(its stored outputs and logs stay lost)"
    )
