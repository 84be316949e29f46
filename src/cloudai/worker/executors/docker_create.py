"""The container an attempt runs in, as `containers.create` arguments."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import docker
from docker.errors import DockerException
from docker.models.containers import _create_container_args
from docker.types import CancellableStream

from cloudai.worker.executors.base import CONTAINER_OUTPUT_DIR, ExecutionSpec, shell_argv
from cloudai.worker.identity import WorkerIdentity
from cloudai.worker.logcap import LogCap

LABEL_TASK_ID = "cloudai.task_id"
LABEL_EPOCH = "cloudai.epoch"
LABEL_WORKER_ID = "cloudai.worker_id"
LABEL_INSTANCE_ID = "cloudai.instance_id"
LABEL_CLUSTER_ID = "cloudai.cluster_id"
PIDS_LIMIT = 512
_NAME_FORBIDDEN = re.compile(r"[^a-zA-Z0-9_.-]")


def container_name(task_id: str, epoch: int) -> str:
    """Docker allows [a-zA-Z0-9][a-zA-Z0-9_.-]*; the fixed prefix covers the first char."""
    return f"cloudai-{_NAME_FORBIDDEN.sub('_', task_id)}-{epoch}"


def docker_available(client_factory: Callable[[], Any] = docker.from_env) -> bool:
    """True when a docker daemon answers a ping. Blocking: call it in a thread."""
    try:
        client = client_factory()
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (DockerException, OSError):
        return False


def create_kwargs(spec: ExecutionSpec, name: str, identity: WorkerIdentity) -> dict[str, Any]:
    """The `containers.create` arguments of one attempt's container: no network,
    capped CPU/memory/pids, no capabilities, its /output, labels naming its owner."""
    memory = int(spec.memory_gb * 1024**3)
    kwargs: dict[str, Any] = {
        "image": spec.image,
        "command": shell_argv(spec.command),
        "name": name,
        "network_mode": "none",
        "nano_cpus": int(spec.cpu * 1e9),
        "mem_limit": memory,
        "memswap_limit": memory,  # equal to the memory limit: no swap
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": PIDS_LIMIT,
        "init": True,  # a real PID 1 forwards SIGTERM and reaps zombies
        "environment": dict(spec.env),
        "labels": {
            LABEL_TASK_ID: spec.task_id,
            LABEL_EPOCH: str(spec.epoch),
            LABEL_WORKER_ID: identity.worker_id,
            LABEL_INSTANCE_ID: identity.instance_id,
            LABEL_CLUSTER_ID: identity.cluster_id,
        },
        "volumes": {str(spec.output_dir.resolve()): {"bind": CONTAINER_OUTPUT_DIR, "mode": "rw"}},
        "tty": False,  # keeps stdout and stderr as separate multiplexed streams
        "detach": True,
    }
    if spec.gpu_ids:  # these devices exactly: another attempt may hold the others
        ids = [str(i) for i in spec.gpu_ids]
        kwargs["device_requests"] = [
            docker.types.DeviceRequest(device_ids=ids, capabilities=[["gpu"]])
        ]
    elif spec.gpu > 0:  # a spec made without the runner's allocator
        kwargs["device_requests"] = [
            docker.types.DeviceRequest(count=spec.gpu, capabilities=[["gpu"]])
        ]
    return kwargs


def prepare_host_paths(spec: ExecutionSpec) -> None:
    """Created here, not by dockerd, so that they belong to the worker's user."""
    spec.output_dir.mkdir(parents=True, exist_ok=True)
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)


def log_cap(spec: ExecutionSpec) -> LogCap | None:
    """The attempt's log cap, if it has one."""
    return LogCap(spec.max_log_bytes) if spec.max_log_bytes else None


def attempt_of(info: dict[str, Any]) -> tuple[str, int] | None:
    """(task_id, epoch) from a listed container's labels; None if they are not ours."""
    labels = info.get("Labels") or {}
    try:
        return (str(labels[LABEL_TASK_ID]), int(labels[LABEL_EPOCH]))
    except (KeyError, ValueError):
        return None


def owner_filters(identity: WorkerIdentity) -> list[str]:
    """Label filters that find this worker instance's containers in its cluster only."""
    return [
        f"{LABEL_INSTANCE_ID}={identity.instance_id}",
        f"{LABEL_CLUSTER_ID}={identity.cluster_id}",
    ]


def create_container(api: Any, kwargs: dict[str, Any]) -> str:
    """Create the container of `create_kwargs`; its id. The low-level call: the SDK's
    `containers.create` inspects the new container afterwards, a round trip unused here."""
    args = _create_container_args({**kwargs, "version": api._version})
    return str(api.create_container(**args)["Id"])


def attach_output(api: Any, container_id: str) -> Any:
    """The demultiplexed stdout+stderr stream of a container created with tty=False.
    (The SDK's `attach` inspects the container first to learn whether it has a tty.)"""
    params = {"logs": 0, "stdout": 1, "stderr": 1, "stream": 1}
    headers = {"Connection": "Upgrade", "Upgrade": "tcp"}
    url = api._url("/containers/{0}/attach", container_id)
    response = api._post(url, headers=headers, params=params, stream=True)
    frames = api._read_from_socket(response, True, False, demux=True)
    return CancellableStream(frames, response)
