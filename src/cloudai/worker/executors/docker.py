"""Runs tasks in Docker containers: the sandboxed executor.

Each attempt gets one container, `cloudai-<task_id>-<epoch>`, with no network, capped
CPU/memory/pids, no capabilities and no privilege escalation. Its output directory is
bind-mounted at /output. stdout+stderr are copied byte for byte to the spec's log file,
from a low-level attach stream opened before the container starts.

Start-up is reported as it happens: `progress` gets "pulling image …" (see
`docker_images`) and "creating container …", and `started` only once the container runs.

Once the exit is known the outcome goes back at once and the container is removed in
the background, as `docker run --rm` has the daemon do it: close() waits for those
removals; one cut short by a kill -9 is left to reap_orphans() of a later start. The
per-run calls are those `docker run` makes, plus one inspect after the exit (OOMKilled);
an image found present is not looked up again (`docker_images`).

The docker SDK blocks. Its short calls run on the executor's own bounded pool, and
pulls on another (`docker_calls`): never on the loop's default pool, which the worker's
heartbeat needs, so a slow daemon or registry cannot starve it. Following the output and
waiting for the exit last as long as the task, so each container has a dedicated thread
for them (a bounded pool would leave a running container's output unread once full).
Docker exceptions are translated here: callers see `ExitStatus.error`, never SDK types.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Collection
from typing import Any

import docker
from docker.errors import ImageNotFound

from cloudai.domain.attempts import PHASE_CREATING
from cloudai.worker.executors.base import (
    ExecutionSpec,
    ExitStatus,
    Progress,
    no_progress,
    nothing,
)
from cloudai.worker.executors.docker_calls import DockerCalls
from cloudai.worker.executors.docker_create import (  # the labels: re-exported
    LABEL_INSTANCE_ID,
    LABEL_TASK_ID,
    attach_output,
    attempt_of,
    container_name,
    create_container,
    create_kwargs,
    docker_available,
    log_cap,
    prepare_host_paths,
)
from cloudai.worker.executors.docker_images import ImagePuller, PullHandle, PullOptions
from cloudai.worker.executors.docker_images import StepFailed as _Failed
from cloudai.worker.executors.docker_images import translating as _translating
from cloudai.worker.executors.docker_stats import CpuMeter, usage_of
from cloudai.worker.executors.docker_streams import (
    Follow,
    close_stream,
    copy_and_wait,
    in_thread,
    resume_and_wait,
)
from cloudai.worker.identity import WorkerIdentity

__all__ = [
    "LABEL_INSTANCE_ID",
    "LABEL_TASK_ID",
    "DockerExecutor",
    "container_name",
    "docker_available",
]

_CLOSE_GRACE_S = 10.0
_CLOSE_WAIT_S = 60.0
_LEAVE_WAIT_S = 5.0  # for a copy thread to see its stream closed
CALL_WORKERS = 8  # concurrent short SDK calls (create, start, inspect, stop, remove)
PULL_WORKERS = 4  # concurrent pulls; more wait their turn (within their deadline)


@dataclasses.dataclass(eq=False)
class _Run:
    spec: ExecutionSpec
    name: str
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)  # orders start vs. stop
    done: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    container_id: str | None = None
    create_attempted: bool = False
    started: bool = False
    exited: bool = False
    cancelled: bool = False
    on_started: Callable[[], None] = nothing
    on_progress: Progress = no_progress
    pull: PullHandle = dataclasses.field(default_factory=PullHandle)
    follow: Follow = dataclasses.field(default_factory=Follow)  # the output being copied


class DockerExecutor:
    name = "docker"
    sandboxed = True
    leaves_running = True

    def __init__(
        self,
        identity: WorkerIdentity,
        *,
        pull_policy: str | None = None,
        pulls: PullOptions | None = None,
        client_factory: Callable[[], Any] = docker.from_env,
        call_workers: int = CALL_WORKERS,
        pull_workers: int = PULL_WORKERS,
    ) -> None:
        """`pull_policy`, when given, overrides `pulls.policy`."""
        options = pulls or PullOptions()
        if pull_policy is not None:
            options = dataclasses.replace(options, policy=pull_policy)
        self.identity = identity
        self.pull_policy = options.policy
        self._docker = DockerCalls(client_factory, call_workers, pull_workers)
        self._runs: dict[tuple[str, int], _Run] = {}
        self._removals: dict[str, asyncio.Task[None]] = {}  # by container name
        self._closed = False
        self._leaving = False  # leave(): started containers outlive this process
        self._images = ImagePuller(options, self._docker.pulls, self._docker.call)
        self._cpu = CpuMeter()

    # -- the Executor protocol -------------------------------------------------------

    async def run(
        self,
        spec: ExecutionSpec,
        started: Callable[[], None] = nothing,
        *,
        progress: Progress = no_progress,
        adopt: bool = False,
    ) -> ExitStatus:
        if self._closed:
            return ExitStatus(exit_code=None, error="the docker executor is closed")
        if spec.key in self._runs:
            return ExitStatus(exit_code=None, error=f"{spec.key} is already running here")
        name = container_name(spec.task_id, spec.epoch)
        run = _Run(spec, name, on_started=started, on_progress=progress)
        self._runs[spec.key] = run
        try:
            return await (self._adopt(run) if adopt else self._run(run))
        except _Failed as exc:
            if run.cancelled and not run.started:  # stopped while pulling: not a failure
                return ExitStatus(exit_code=None, cancelled=True)
            return ExitStatus(
                exit_code=None, error=str(exc), cancelled=run.cancelled, failure=exc.failure
            )
        finally:
            # Also on asyncio cancellation: a forced removal kills a still running task,
            # unless the worker leaves it running for its next start (leave()).
            if run.exited:  # the outcome is known: removed while it is being reported
                self._remove_later(run)
            elif not (self._leaving and run.started):
                await self._remove(run)
            del self._runs[spec.key]
            self._cpu.forget(spec.key)
            run.done.set()

    async def stop(self, task_id: str, epoch: int, grace_s: float = 10.0) -> bool:
        run = self._runs.get((task_id, epoch))
        if run is None or run.exited:
            return False
        run.cancelled = True  # a run not started yet sees this and never starts
        run.pull.cancel()  # ends its pull, if one is under way
        async with run.lock:
            if run.started and run.container_id is not None:
                await self._docker.stop_container(run.container_id, grace_s)
        return True

    async def running(self) -> list[tuple[str, int]]:
        return list(self._runs)

    async def usage(self) -> dict[tuple[str, int], tuple[float, float]]:
        """(cores, GiB of memory) each running container uses now."""
        containers = {
            key: r.container_id
            for key, r in self._runs.items()
            if r.started and not r.exited and r.container_id
        }
        if not containers or self._docker.client is None:
            return {}
        return await usage_of(
            self._docker.call, self._docker.client.api, containers, self._cpu, _Failed
        )

    async def leftovers(self) -> list[tuple[str, int]]:
        """This worker's containers (running or exited) that no run here follows."""
        found = await self._docker.owned(self.identity)
        keys = (attempt_of(info) for info in found)
        return [key for key in keys if key is not None and key not in self._runs]

    async def reap_orphans(self, keep: Collection[tuple[str, int]] = ()) -> int:
        """Remove this worker's leftover containers that no run here owns and that are
        not of an attempt in `keep`: only those labelled with both its instance id and
        its cluster's id."""
        found = await self._docker.owned(self.identity)
        ours = {r.container_id for r in self._runs.values()}
        ours |= {f"/{r.name}" for r in self._runs.values()}
        kept = set(keep)
        reaped = 0
        for info in found:
            if info["Id"] in ours or ours.intersection(info.get("Names") or []):
                continue
            if attempt_of(info) in kept:
                continue
            if await self._docker.remove_container(info["Id"]):
                reaped += 1
        return reaped

    async def leave(self) -> None:
        """Stop following the output of started containers (so that nothing appends to
        their logs any more) and keep those containers when their runs are cancelled."""
        self._leaving = True
        left = [r for r in self._runs.values() if r.started and not r.exited]
        for run in left:
            run.follow.close()
        if left and not self._docker.closed:
            await asyncio.gather(
                *(self._docker.call(r.follow.wait_done, _LEAVE_WAIT_S) for r in left)
            )

    async def close(self) -> None:
        self._closed = True
        runs = list(self._runs.values())
        await asyncio.gather(*(self.stop(*r.spec.key, _CLOSE_GRACE_S) for r in runs))
        if runs:
            waits = [asyncio.create_task(r.done.wait()) for r in runs]
            _, pending = await asyncio.wait(waits, timeout=_CLOSE_WAIT_S)
            for task in pending:
                task.cancel()
        await self.removed(_CLOSE_WAIT_S)
        self._docker.close()

    # -- one run ---------------------------------------------------------------------

    async def _run(self, run: _Run) -> ExitStatus:
        spec = run.spec
        client = await self._docker.get_client()
        if not run.cancelled:
            await self._images.ensure(client, spec.image, run.on_progress, run.pull)
        with _translating("prepare host paths"):
            await self._docker.call(prepare_host_paths, spec)
        if run.cancelled:
            return ExitStatus(exit_code=None, cancelled=True)
        run.on_progress(PHASE_CREATING, f"creating container {run.name}")
        run.create_attempted = True
        container_id = run.container_id = await self._create(client, run)
        stream = await self._attach_and_start(client, run)
        if stream is None:
            return ExitStatus(exit_code=None, cancelled=True)
        return await self._until_exit(
            client, run, lambda: copy_and_wait(client.api, container_id, stream, spec.log_path,
                                               run.follow, log_cap(spec)),
        )  # fmt: skip

    async def _create(self, client: Any, run: _Run) -> str:
        """The new container's id. An image known to be present may have been removed
        since: then the pull policy decides again (as for an unknown image), once."""
        kwargs = self._create_kwargs(run.spec, run.name)
        if pending := self._removals.get(run.name):  # this attempt's earlier container
            await asyncio.wait({pending})
        with _translating("create container"):
            try:
                return await self._docker.call(create_container, client.api, kwargs)
            except ImageNotFound:
                if not self._images.forget(run.spec.image):
                    raise
        await self._images.ensure(client, run.spec.image, run.on_progress, run.pull)
        with _translating("create container"):
            return await self._docker.call(create_container, client.api, kwargs)

    async def _adopt(self, run: _Run) -> ExitStatus:
        """Follow a container an earlier process of this worker started (or that ended
        while no process of it ran): its log goes on from the byte the spool holds."""
        client = await self._docker.get_client()
        run.create_attempted = True
        with _translating("find container"):
            info = await self._docker.call(client.api.inspect_container, run.name)
        container_id = run.container_id = str(info["Id"])
        async with run.lock:
            run.started = True
            run.on_started()
        if run.cancelled:  # stop() came before the container was known
            await self._docker.stop_container(container_id, _CLOSE_GRACE_S)
        return await self._until_exit(
            client, run, lambda: resume_and_wait(client.api, container_id, run.spec.log_path,
                                                 run.follow, log_cap(run.spec)),
        )  # fmt: skip

    async def _until_exit(self, client: Any, run: _Run, follow: Callable[[], int]) -> ExitStatus:
        """`follow` (copies the output, returns the exit code) in a thread of its own."""
        assert run.container_id is not None
        with _translating("wait for container"):
            exit_code = await in_thread(f"docker-{run.name}", follow)
        run.exited = True
        with _translating("inspect container"):
            info = await self._docker.call(client.api.inspect_container, run.container_id)
        oom_killed = bool(info.get("State", {}).get("OOMKilled", False))
        return ExitStatus(exit_code=exit_code, oom_killed=oom_killed, cancelled=run.cancelled)

    async def _attach_and_start(self, client: Any, run: _Run) -> Any:
        """Attach to the container's stdout+stderr, then start it; None if cancelled first.

        Attached before the start, the stream carries every byte from the first one to
        the last. (Following `logs` instead was seen to end before a final line without
        a newline had been stored, losing it.)
        """
        container_id = run.container_id
        async with run.lock:
            if run.cancelled:
                return None
            with _translating("attach to container"):
                stream = await self._docker.call(attach_output, client.api, container_id)
            run.follow.open(stream)
            try:
                with _translating("start container"):
                    await self._docker.call(client.api.start, container_id)
            except BaseException:  # also asyncio cancellation: the stream must not leak
                close_stream(stream)
                raise
            run.started = True
            run.on_started()
        return stream

    def _create_kwargs(self, spec: ExecutionSpec, name: str) -> dict[str, Any]:
        return create_kwargs(spec, name, self.identity)

    async def _remove(self, run: _Run) -> None:
        if not run.create_attempted:
            return
        # By name when creation was interrupted before its id came back.
        await self._docker.remove_container(run.container_id or run.name)

    def _remove_later(self, run: _Run) -> None:
        """Remove an exited container in the background; close() waits for it."""
        task = asyncio.create_task(self._remove(run), name=f"remove-{run.name}")
        self._removals[run.name] = task
        task.add_done_callback(lambda _: self._removals.pop(run.name, None))

    async def removed(self, timeout_s: float | None = None) -> None:
        """Once the containers of the runs ended so far are removed (or `timeout_s`)."""
        if self._removals:
            await asyncio.wait(list(self._removals.values()), timeout=timeout_s)
