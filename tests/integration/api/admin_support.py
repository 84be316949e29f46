"""The master core with a fake inviter (workers' MasterRegister) and its REST app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from cloudai.api.app import create_app
from cloudai.master.core import CoreOptions, MasterCore, build_core
from cloudai.master.gateway import FakeWorkerGateway
from cloudai.master.registration import FakeInviter
from cloudai.ports import FakeClock
from cloudai.store.sql import open_store

MASTER_ADDRESS = "10.0.0.1:50051"


@dataclass
class Admin:
    core: MasterCore
    api: httpx.AsyncClient
    clock: FakeClock
    gateway: FakeWorkerGateway
    inviter: FakeInviter


@contextlib.asynccontextmanager
async def running_admin(tmp_path: Path) -> AsyncIterator[Admin]:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    clock, gateway, inviter = FakeClock(), FakeWorkerGateway(), FakeInviter()
    options = CoreOptions(tmp_path, "k" * 32, master_address=MASTER_ADDRESS)
    core = build_core(store, clock, gateway, options, inviter=inviter)
    transport = httpx.ASGITransport(app=create_app(core.services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
        yield Admin(core, api, clock, gateway, inviter)
    await store.close()
