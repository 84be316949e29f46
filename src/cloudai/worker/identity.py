"""Who this worker is, durably: its id, an instance id made once per data directory,
and the id of the cluster it last joined.

Containers carry the instance and cluster ids as labels, and the worker touches only
containers that carry both: two clusters (or two workers that share an id) on one
Docker daemon never remove each other's tasks.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from cloudai.fileutil import write_atomically

IDENTITY_FILE = "identity.json"


@dataclass(slots=True)
class WorkerIdentity:
    """Owned by the worker app, the only writer (`joined`); executors read it."""

    worker_id: str
    instance_id: str
    cluster_id: str = ""  # "" until this instance first joins a cluster
    path: Path | None = None  # where it is kept; None: not kept (tests)

    def joined(self, cluster_id: str) -> None:
        """Remember the cluster a registration answered from."""
        if cluster_id and cluster_id != self.cluster_id:
            self.cluster_id = cluster_id
            if self.path is not None:
                _write(self.path, self)


def load_identity(data_dir: Path, worker_id: str) -> WorkerIdentity:
    """The identity kept in `data_dir`, made (and kept) on first use."""
    path = data_dir / IDENTITY_FILE
    if path.exists():
        kept = json.loads(path.read_text())
        return WorkerIdentity(worker_id, str(kept["instance_id"]), str(kept["cluster_id"]), path)
    identity = WorkerIdentity(worker_id, f"instance-{uuid.uuid4().hex[:12]}", "", path)
    _write(path, identity)
    return identity


def _write(path: Path, identity: WorkerIdentity) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = {"instance_id": identity.instance_id, "cluster_id": identity.cluster_id}
    write_atomically(path, (json.dumps(kept) + "\n").encode())
