"""Pre-registration of workers by an admin (the seed's `register`, POST /api/workers).

The admin names the address of a worker started with `--wait-for-master`. The master
records a one-time registration token (its SHA-256 only; it expires and works once),
then calls the worker's MasterRegister with its own gRPC address and that token. The
worker answers with its id and joins with the token in place of the join token; from
then on it uses its per-worker credential like any other worker.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from cloudai.domain.errors import Conflict, Forbidden, InvalidRequest, Unavailable
from cloudai.domain.registrations import Registration
from cloudai.domain.users import Role, User
from cloudai.domain.workers import WorkerStatus
from cloudai.master.registry import WorkerRegistry
from cloudai.ports import Clock, Store

logger = logging.getLogger(__name__)

MASTER_ID = "master-1"  # the reference's name for the one master
_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):([0-9]{1,5})$")
_WORKER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_WILDCARDS = ("0.0.0.0", "::", "[::]", "")


@dataclass(frozen=True, slots=True)
class Invite:
    """What MasterRegister carries to the worker."""

    master_id: str
    master_address: str
    token: str
    worker_id: str | None  # the id the admin expects (the worker refuses another)


class Inviter(Protocol):
    async def invite(self, address: str, invite: Invite) -> str:
        """Call MasterRegister at `address`; the worker's id. Raises `Unavailable`
        when it cannot be reached and `Conflict` when it refuses (not waiting)."""
        ...


@dataclass
class FakeInviter:
    """Records invitations; answers as a waiting worker named `worker_id` would."""

    worker_id: str = "w-invited"
    invited: list[tuple[str, Invite]] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)
    refusing: set[str] = field(default_factory=set)

    async def invite(self, address: str, invite: Invite) -> str:
        if address in self.unreachable:
            raise Unavailable(f"{address}: connection refused")
        if address in self.refusing:
            raise Conflict("this worker is not waiting for a master")
        self.invited.append((address, invite))
        return invite.worker_id or self.worker_id


class NoInviter:
    async def invite(self, address: str, invite: Invite) -> str:
        raise Unavailable("this master cannot call workers to register them")


@dataclass(frozen=True, slots=True)
class Pending:
    worker_id: str
    address: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_address(address: str) -> str:
    address = address.strip()
    match = _ADDRESS.match(address)
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise InvalidRequest(f"address {address!r} is not host:port")
    return address


class RegistrationService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        registry: WorkerRegistry,
        inviter: Inviter,
        *,
        ttl_s: float = 600.0,
        master_address: str = "",
    ) -> None:
        self._store = store
        self._clock = clock
        self._registry = registry
        self._inviter = inviter
        self._ttl = timedelta(seconds=ttl_s)
        self.master_address = master_address  # the gRPC address workers dial

    def advertise(self, address: str) -> None:
        """Set where workers reach this master (known once its gRPC server listens)."""
        self.master_address = address

    async def preregister(self, admin: User, address: str, worker_id: str | None) -> Pending:
        if admin.role is not Role.ADMIN:
            raise Forbidden("admins only")
        address = check_address(address)
        if worker_id is not None and not _WORKER_ID.match(worker_id):
            raise InvalidRequest(f"invalid worker id {worker_id!r}")
        known = self._registry.get(worker_id) if worker_id else None
        if known is not None and known.status is WorkerStatus.ACTIVE:
            raise Conflict(f"worker {worker_id} is registered and active")
        if not self.master_address:
            raise Unavailable("the master's gRPC address is not known yet")
        now = self._clock.now()
        await self._store.prune_registrations(now)  # rare: the expired ones go here
        token = secrets.token_urlsafe(32)
        await self._store.add_registration(
            Registration(hash_token(token), address, now, now + self._ttl, worker_id)
        )
        invite = Invite(MASTER_ID, self._reachable_from(address), token, worker_id)
        answered = await self._inviter.invite(address, invite)
        logger.info("worker invited", extra={"worker_id": answered, "address": address})
        return Pending(answered, address)

    def _reachable_from(self, worker_address: str) -> str:
        """The master's address; a wildcard host becomes the local address that routes
        to the worker (what the worker can dial back)."""
        host, _, port = self.master_address.rpartition(":")
        if host not in _WILDCARDS:
            return self.master_address
        worker_host = worker_address.rpartition(":")[0].strip("[]")
        return f"{_local_address_towards(worker_host)}:{port}"

    async def redeem(self, token: str, worker_id: str) -> Registration | None:
        """The registration a worker joins with, used up now; None if unusable."""
        if not token:
            return None
        return await self._store.redeem_registration(
            hash_token(token), worker_id, self._clock.now()
        )

    async def pending(self) -> list[Registration]:
        now = self._clock.now()
        registrations = await self._store.list_registrations()
        return [r for r in registrations if r.used_at is None and r.expires_at > now]


def _local_address_towards(host: str) -> str:
    """The local IP the kernel would send from to reach `host` (a UDP connect sends
    nothing); 127.0.0.1 when there is no route."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((host, 9))
            local: str = probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    return f"[{local}]" if ":" in local else local
