"""The docker executor's plumbing: one SDK client, made on first use, and the bounded
pools its blocking calls run on (short calls on one, pulls on another), never the
loop's default pool, which the worker's heartbeat needs."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from docker.errors import DockerException, NotFound

from cloudai.worker.executors.base import ExecutorError
from cloudai.worker.executors.docker_create import LABEL_TASK_ID, owner_filters
from cloudai.worker.executors.docker_images import StepFailed, explain, translating
from cloudai.worker.identity import WorkerIdentity

log = logging.getLogger(__name__)

T = TypeVar("T")


class DockerCalls:
    def __init__(
        self, client_factory: Callable[[], Any], call_workers: int, pull_workers: int
    ) -> None:
        self._client_factory = client_factory
        self.client: Any = None  # None until first used, and again once closed
        self._client_lock = asyncio.Lock()
        self.closed = False
        self._calls = ThreadPoolExecutor(call_workers, thread_name_prefix="docker-call")
        self.pulls = ThreadPoolExecutor(pull_workers, thread_name_prefix="docker-pull")

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on the pool of short calls."""
        if self.closed:  # a run that outlived close()'s wait
            raise StepFailed("the docker executor is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._calls, functools.partial(fn, *args, **kwargs))

    async def get_client(self) -> Any:
        async with self._client_lock:
            if self.client is None:
                with translating("docker daemon unreachable"):
                    self.client = await self.call(self._client_factory)
            return self.client

    async def owned(self, identity: WorkerIdentity) -> list[dict[str, Any]]:
        """Every container of this worker instance in this cluster, running or not."""
        try:
            client = await self.get_client()
            with translating("list containers"):
                found: list[dict[str, Any]] = await self.call(
                    client.api.containers,
                    all=True,
                    filters={"label": [LABEL_TASK_ID, *owner_filters(identity)]},
                )
        except StepFailed as exc:
            raise ExecutorError(str(exc)) from exc
        return found

    async def stop_container(self, container_id: str, grace_s: float) -> None:
        # `docker stop` is exactly SIGTERM, wait `t` whole seconds, SIGKILL; it returns
        # once the container has stopped.
        grace = max(0, math.ceil(grace_s))
        if self.client is None:  # closed meanwhile; close() stopped it already
            return
        try:
            await self.call(self.client.api.stop, container_id, timeout=grace)
        except NotFound:
            log.debug("container %s was already gone when stopped", container_id[:12])
        except (DockerException, OSError) as exc:
            # run() removes the container with force in any case, which kills it.
            log.warning("stopping container %s failed: %s", container_id[:12], explain(exc))

    async def remove_container(self, ref: str) -> bool:
        if self.client is None or self.closed:  # closed meanwhile; reap_orphans() finds it
            return False
        try:
            # v=True: anonymous volumes (an image's VOLUME) go with the container.
            await self.call(self.client.api.remove_container, ref, force=True, v=True)
        except NotFound:
            return False
        except (DockerException, OSError) as exc:
            # Left for reap_orphans() on the next start; the task's outcome still counts.
            log.warning("removing container %s failed: %s", ref, explain(exc))
            return False
        return True

    def close(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            client.close()  # closes its sockets only: no round trip to the daemon
        # Without waiting: a call stuck on a hung daemon must not hang the shutdown.
        self.closed = True
        self._calls.shutdown(wait=False, cancel_futures=True)
        self.pulls.shutdown(wait=False, cancel_futures=True)
