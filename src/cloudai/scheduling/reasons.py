"""Why a queued task waits, phrased for the user who submitted it (as Slurm's and Nomad's
users want to read it)."""

from __future__ import annotations

from collections.abc import Sequence

from cloudai.domain.resources import Resources
from cloudai.scheduling.capacity import EPSILON, FreeCapacity
from cloudai.scheduling.snapshot import WorkerView

NO_WORKER = "no active worker is registered"
ONLY_UNSCHEDULABLE = "only draining or cordoned workers could ever fit it"
WAITING = "waiting for free resources"


def describe(resources: Resources) -> str:
    return (
        f"{resources.cpu:g} CPU, {resources.memory_gb:g} GiB memory, "
        f"{resources.storage_gb:g} GiB storage, {resources.gpu} GPU"
    )


def largest(workers: Sequence[WorkerView]) -> Resources:
    """The largest total per dimension over `workers` (not necessarily one worker)."""
    return Resources(
        max(w.total.cpu for w in workers),
        max(w.total.memory_gb for w in workers),
        max(w.total.storage_gb for w in workers),
        max(w.total.gpu for w in workers),
    )


def never_fits(request: Resources, workers: Sequence[WorkerView]) -> str:
    return (
        f"no registered worker could ever fit: asks {describe(request)}; "
        f"largest worker: {describe(largest(workers))}"
    )


def user_cap(limit: int) -> str:
    return f"user running-task limit reached ({limit})"


def behind_reservation(task_id: str) -> str:
    return f"waiting behind a reserved task ({task_id})"


def reserved_for_it(worker_id: str) -> str:
    return f"worker {worker_id} is reserved for it"


def target_not_registered(worker_id: str) -> str:
    return f"target worker {worker_id} is not registered"


def target_not_schedulable(worker_id: str) -> str:
    return f"target worker {worker_id} is draining or cordoned"


def target_never_fits(request: Resources, worker: WorkerView) -> str:
    return (
        f"target worker {worker.worker_id} could never fit it: asks {describe(request)}; "
        f"worker has {describe(worker.total)}"
    )


def shortage(request: Resources, capacity: FreeCapacity, only: int | None = None) -> str:
    """What is exhausted on the schedulable workers that could ever fit `request` (or on
    worker `only`), e.g. "memory exhausted on 3 workers" or "no worker with 1 free GPU"."""
    cpu, memory = request.cpu - EPSILON, request.memory_gb - EPSILON
    storage, gpu = request.storage_gb - EPSILON, request.gpu
    candidates = short_cpu = short_memory = short_storage = short_gpu = 0
    for n, total, free_cpu, free_memory, free_storage, free_gpu in capacity.groups(only):
        if total.cpu < cpu or total.memory_gb < memory or total.storage_gb < storage:
            continue  # too small ever to fit: not the shortage to report
        if total.gpu < gpu:
            continue
        candidates += n
        if free_cpu < cpu:
            short_cpu += n
        if free_memory < memory:
            short_memory += n
        if free_storage < storage:
            short_storage += n
        if free_gpu < gpu:
            short_gpu += n
    if gpu > 0 and candidates and short_gpu == candidates:
        return f"no worker with {gpu} free GPU{'s' if gpu != 1 else ''}"
    short = {"cpu": short_cpu, "memory": short_memory, "storage": short_storage, "gpu": short_gpu}
    parts = [
        f"{dim} exhausted on {n} worker{'s' if n != 1 else ''}" for dim, n in short.items() if n
    ]
    return "; ".join(parts) or WAITING
