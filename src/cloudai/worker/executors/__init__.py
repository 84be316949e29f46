"""Executors: what actually runs a task (a Docker container, a local process, a fake)."""

from __future__ import annotations

from cloudai.worker.executors.base import (
    CONTAINER_OUTPUT_DIR,
    ExecutionSpec,
    Executor,
    ExecutorError,
    ExitStatus,
)
from cloudai.worker.executors.docker import DockerExecutor
from cloudai.worker.executors.docker_images import PullOptions
from cloudai.worker.executors.fake import FakeExecutor, FakeRun
from cloudai.worker.executors.process import ProcessExecutor
from cloudai.worker.identity import WorkerIdentity

EXECUTOR_KINDS = ("docker", "process", "fake")

__all__ = [
    "CONTAINER_OUTPUT_DIR",
    "EXECUTOR_KINDS",
    "DockerExecutor",
    "ExecutionSpec",
    "Executor",
    "ExecutorError",
    "ExitStatus",
    "FakeExecutor",
    "FakeRun",
    "ProcessExecutor",
    "PullOptions",
    "build_executor",
]


def build_executor(
    kind: str, identity: WorkerIdentity, pulls: PullOptions | None = None
) -> Executor:
    """The executor for a configured kind; ValueError for an unknown one. `pulls`: the
    docker executor's image pulls (policy, timeout, credentials)."""
    if kind == "docker":
        return DockerExecutor(identity, pulls=pulls)
    if kind == "process":
        return ProcessExecutor(identity.worker_id)
    if kind == "fake":
        return FakeExecutor()
    raise ValueError(f"unknown executor kind {kind!r}; expected one of {EXECUTOR_KINDS}")
