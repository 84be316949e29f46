"""What a submit must pass before it is queued: a valid image from an allowed registry,
and the user's queued-task quota (admins are exempt)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from cloudai.domain.errors import InvalidRequest, TooManyRequests
from cloudai.domain.images import DOCKER_HUB, RegistryPolicy, is_ip_literal, parse_image
from cloudai.domain.task import TaskStatus
from cloudai.domain.users import Role, User
from cloudai.ports import Store

_RESOLVE_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class AdmissionRules:
    registries: RegistryPolicy = field(default_factory=RegistryPolicy)
    max_queued_per_user: int | None = 10_000  # None: no cap


class Admission:
    def __init__(self, store: Store, rules: AdmissionRules) -> None:
        self._store = store
        self._rules = rules
        # One lock per user, kept only while someone holds or waits for it.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @contextlib.asynccontextmanager
    async def admitting(self, user: User, image: str) -> AsyncIterator[None]:
        """Check the image and the user's queued-task cap, and hold that user's
        admissions until the body (which queues the task) is done: a burst at the cap
        gets exactly the free places in this master. InvalidRequest for an image that
        may not be pulled; TooManyRequests for a user at the cap."""
        await self._check_image(image)  # outside the lock: it may wait for DNS
        lock = self._locks.setdefault(user.user_id, asyncio.Lock())
        async with lock:
            await self._check_quota(user)
            yield

    async def _check_quota(self, user: User) -> None:
        cap = self._rules.max_queued_per_user
        if cap is None or user.role is Role.ADMIN:
            return
        queued = await self._store.count_tasks(user_id=user.user_id, statuses=[TaskStatus.QUEUED])
        if queued >= cap:
            raise TooManyRequests(
                f"you have {queued} queued tasks, the most one user may have ({cap}); "
                "wait for some to start or cancel some"
            )

    async def _check_image(self, image: str) -> None:
        reference = parse_image(image)
        policy = self._rules.registries
        addresses: tuple[str, ...] = ()
        trusted = policy.allowed or policy.private_allowed or reference.registry == DOCKER_HUB
        if not trusted and not is_ip_literal(reference.host):
            addresses = await _resolve(reference.host)
        refusal = policy.refusal(reference, addresses)
        if refusal is not None:
            raise InvalidRequest(f"image {image!r}: {refusal}")


async def _resolve(host: str) -> tuple[str, ...]:
    """Every address `host` resolves to; a name that does not resolve is refused rather
    than trusted (the worker's resolver might map it somewhere private)."""
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), _RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError) as exc:
        raise InvalidRequest(
            f"registry host {host!r} cannot be resolved from the master ({exc}); an admin "
            "may list it in CLOUDAI_ALLOWED_REGISTRIES"
        ) from exc
    return tuple(str(info[4][0]) for info in found)
