"""Login abuse over REST: bursts are throttled (429 + Retry-After) without locking the
owner out, unknown emails answer like wrong passwords, registration can be closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from cloudai.api.app import create_app
from cloudai.domain.users import Role
from cloudai.master.core import CoreOptions, MasterCore, build_core
from cloudai.master.gateway import FakeWorkerGateway
from cloudai.master.throttle import ThrottleLimits
from cloudai.ports import FakeClock
from cloudai.store.sql import open_store
from tests.integration.api.conftest import PASSWORD

LIMITS = ThrottleLimits(per_pair=3, per_address=8, per_account=6, window_s=60)
ADMIN = "root@example.test"
Client = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


async def _core(tmp_path: Path, *, open_registration: bool) -> MasterCore:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    options = CoreOptions(
        tmp_path, "k" * 32, login_limits=LIMITS, open_registration=open_registration
    )
    core = build_core(store, FakeClock(), FakeWorkerGateway(), options)
    await core.accounts.register("root", ADMIN, PASSWORD, role=Role.ADMIN)
    await core.accounts.register("ann", "ann@example.test", PASSWORD)
    return core


def _clients(app: FastAPI) -> Client:
    @asynccontextmanager
    async def at(address: str) -> AsyncIterator[httpx.AsyncClient]:
        """A client whose requests come from `address` (the peer the master sees)."""
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client

    return at


@pytest.fixture(params=[True], ids=["open"])
async def core(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[MasterCore]:
    core = await _core(tmp_path, open_registration=request.param)
    yield core
    await core.store.close()


@pytest.fixture
def client_at(core: MasterCore) -> Client:
    return _clients(create_app(core.services))


async def _login(api: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await api.post("/api/auth/login", json={"email": email, "password": password})


async def test_a_burst_is_refused_with_retry_after_and_the_owner_logs_in_elsewhere(
    client_at: Client, core: MasterCore
) -> None:
    async with client_at("10.0.0.66") as attacker, client_at("10.0.0.2") as owner:
        for _ in range(3):
            wrong = await _login(attacker, "ann@example.test", "wrong-password")
            assert wrong.status_code == 401
        refused = await _login(attacker, "ann@example.test", "wrong-password")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "60"
        assert refused.json()["error"] == "too_many_requests"
        # Refused before the password is looked at: the right one is refused there too ...
        assert (await _login(attacker, "ann@example.test")).status_code == 429
        # ... while the owner, from another address, logs in.
        assert (await _login(owner, "ann@example.test")).status_code == 200
        core.clock.advance(30)
        refused = await _login(attacker, "ann@example.test", "wrong-password")
        assert refused.headers["retry-after"] == "30"
        core.clock.advance(30)
        assert (await _login(attacker, "ann@example.test")).status_code == 200


async def test_a_concurrent_burst_costs_only_the_allowed_password_checks(
    client_at: Client,
) -> None:
    async with client_at("10.0.0.66") as attacker:
        answers = await asyncio.gather(
            *(_login(attacker, "ann@example.test", f"guess-{n:04}") for n in range(30))
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * 3 + [429] * 27


async def test_many_addresses_cannot_lock_the_owner_out(
    client_at: Client,
) -> None:
    for n in range(6):  # six addresses, one failure each: the account's limit
        async with client_at(f"198.51.100.{n}") as attacker:
            assert (await _login(attacker, "ann@example.test", "nope-nope")).status_code == 401
    async with client_at("198.51.100.0") as attacker:
        assert (await _login(attacker, "ann@example.test", "nope-nope")).status_code == 429
    async with client_at("192.0.2.10") as owner:
        for _ in range(5):
            assert (await _login(owner, "ann@example.test")).status_code == 200


async def test_correct_logins_from_one_address_never_add_up(client_at: Client) -> None:
    async with client_at("127.0.0.1") as suite:
        for _ in range(10):  # more than the per-pair and per-address limits
            assert (await _login(suite, "ann@example.test")).status_code == 200


async def test_unknown_email_and_wrong_password_answer_alike(
    client_at: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []
    verify = PasswordHasher.verify

    def counted(self: PasswordHasher, password_hash: Any, password: Any) -> bool:
        checks.append(str(password))
        return verify(self, password_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    async with client_at("10.0.0.3") as api:
        unknown = await _login(api, "nobody@example.test", "guess-one")
        wrong = await _login(api, "ann@example.test", "guess-two")
        unknown_again = await _login(api, "nobody2@example.test", "guess-three")
    assert unknown.status_code == wrong.status_code == unknown_again.status_code == 401
    assert unknown.json() == wrong.json() == unknown_again.json()
    assert unknown.json()["detail"] == unknown.json()["message"] == "invalid email or password"
    assert unknown.headers["www-authenticate"] == wrong.headers["www-authenticate"]
    # An argon2 check in every case, so the answer's time tells nothing either.
    assert checks == ["guess-one", "guess-two", "guess-three"]


async def test_unknown_emails_are_throttled_like_known_ones(client_at: Client) -> None:
    async with client_at("10.0.0.4") as api:
        for email in ("nobody@example.test", "ann@example.test"):
            statuses = [(await _login(api, email, "wrong-pass")).status_code for _ in range(4)]
            assert statuses == [401, 401, 401, 429], email


@pytest.mark.parametrize("core", [False], ids=["admin-only"], indirect=True)
async def test_admin_only_registration_refuses_self_service_and_admins_add_users(
    client_at: Client,
) -> None:
    async with client_at("10.0.0.5") as api:
        new = {"name": "cy", "email": "cy@example.test", "password": PASSWORD}
        closed = await api.post("/api/auth/register", json=new)
        assert closed.status_code == 403
        assert closed.json()["error"] == "forbidden"
        assert "registration is closed" in closed.json()["detail"]
        admin = await _login(api, ADMIN)
        headers = {"Authorization": f"Bearer {admin.json()['access_token']}"}
        created = await api.post("/api/admin/users", json=new, headers=headers)
        assert created.status_code == 201, created.text
        assert created.json()["role"] == "user" and "password" not in created.text
        session = await _login(api, "cy@example.test")
        assert session.status_code == 200
        assert session.json()["user"]["user_id"] == created.json()["user_id"]


async def test_only_admins_add_users_and_may_make_admins(client_at: Client) -> None:
    async with client_at("10.0.0.6") as api:
        new = {"name": "dee", "email": "dee@example.test", "password": PASSWORD}
        assert (await api.post("/api/admin/users", json=new)).status_code == 401
        user = (await _login(api, "ann@example.test")).json()["access_token"]
        as_user = {"Authorization": f"Bearer {user}"}
        assert (await api.post("/api/admin/users", json=new, headers=as_user)).status_code == 403
        admin = (await _login(api, ADMIN)).json()["access_token"]
        as_admin = {"Authorization": f"Bearer {admin}"}
        made = await api.post("/api/admin/users", json={**new, "role": "admin"}, headers=as_admin)
        assert made.status_code == 201 and made.json()["role"] == "admin"
        bad = await api.post(
            "/api/admin/users", json={**new, "email": "e@x.test", "role": "root"}, headers=as_admin
        )
        assert bad.status_code == 422
