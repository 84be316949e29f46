"""The master core on SQLite with a fake clock and gateway, and its REST app in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cloudai.api.app import create_app
from cloudai.master.core import CoreOptions, MasterCore, build_core
from cloudai.master.gateway import FakeWorkerGateway
from cloudai.ports import FakeClock
from cloudai.store.sql import open_store

PASSWORD = "long-enough-password"


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[MasterCore]:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    yield build_core(store, FakeClock(), FakeWorkerGateway(), CoreOptions(tmp_path, "k" * 32))
    await store.close()


@pytest.fixture
async def api(core: MasterCore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(core.services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def login(api: httpx.AsyncClient, name: str) -> dict[str, str]:
    email = f"{name}@example.test"
    created = await api.post(
        "/api/auth/register", json={"name": name, "email": email, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    session = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert session.status_code == 200
    return {"Authorization": f"Bearer {session.json()['access_token']}"}
