"""Personal API tokens: shown once, stored hashed, accepted as bearer tokens, listed
with their last use, refused once expired or deleted, unable to mint more."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from cloudai.master.core import MasterCore
from tests.integration.api.conftest import PASSWORD, login


async def _create(api: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = await api.post("/api/auth/tokens", headers=headers, json={"name": "ci", **body})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_is_shown_once_stored_hashed_and_works_as_bearer(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    session = await login(api, "ann")
    api.cookies.clear()
    created = await _create(api, session, expires_in_days=30)
    secret = created["token"]
    assert secret.startswith("cai_") and len(secret) >= 4 + 43  # 32 random bytes
    assert created["expires_at"].startswith("2026-01-31")
    stored = await core.store.get_api_token(hashlib.sha256(secret.encode()).hexdigest())
    assert stored is not None and secret not in repr(stored)
    me = await api.get("/api/auth/me", headers=_bearer(secret))
    assert me.status_code == 200 and me.json()["email"] == "ann@example.test"
    submitted = await api.post("/api/tasks", headers=_bearer(secret), json={"docker_image": "i"})
    assert submitted.status_code == 201
    listed = (await api.get("/api/auth/tokens", headers=session)).json()["tokens"]
    assert [t["token_id"] for t in listed] == [created["token_id"]]
    assert listed[0]["last_used_at"] is not None and "token" not in listed[0]


async def test_last_use_is_recorded_at_most_once_a_minute(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    session = await login(api, "bea")
    created = await _create(api, session)
    first_use = core.clock.now()
    await api.get("/api/auth/me", headers=_bearer(created["token"]))
    core.clock.advance(30)
    await api.get("/api/auth/me", headers=_bearer(created["token"]))
    [listed] = await core.accounts.tokens.list_tokens(await _user(core, "bea"))
    assert listed.last_used_at == first_use
    core.clock.advance(30)
    await api.get("/api/auth/me", headers=_bearer(created["token"]))
    [listed] = await core.accounts.tokens.list_tokens(await _user(core, "bea"))
    assert listed.last_used_at == core.clock.now()


async def _user(core: MasterCore, name: str) -> Any:
    return await core.store.get_user_by_email(f"{name}@example.test")


async def test_expired_deleted_and_unknown_tokens_get_401(
    api: httpx.AsyncClient, core: MasterCore
) -> None:
    session = await login(api, "cy")
    api.cookies.clear()
    short = await _create(api, session, expires_in_days=1)
    kept = await _create(api, session)
    deleted = await api.delete(f"/api/auth/tokens/{kept['token_id']}", headers=session)
    assert deleted.status_code == 204
    core.clock.advance(24 * 3600 - 1)
    assert (await api.get("/api/auth/me", headers=_bearer(short["token"]))).status_code == 200
    core.clock.advance(1)
    assert (await api.get("/api/auth/me", headers=_bearer(short["token"]))).status_code == 401
    revoked = await api.get("/api/auth/me", headers=_bearer(kept["token"]))
    assert revoked.status_code == 401 and revoked.json()["message"]
    unknown = await api.get("/api/auth/me", headers=_bearer("cai_" + "x" * 43))
    assert unknown.status_code == 401


async def test_tokens_are_private_and_outlive_the_password_change(
    api: httpx.AsyncClient,
) -> None:
    ann = await login(api, "dee")
    bob = await login(api, "eli")
    api.cookies.clear()
    created = await _create(api, ann)
    assert (await api.get("/api/auth/tokens", headers=bob)).json()["tokens"] == []
    theft = await api.delete(f"/api/auth/tokens/{created['token_id']}", headers=bob)
    assert theft.status_code == 404
    body = {"current_password": PASSWORD, "new_password": "a-new-long-password"}
    assert (await api.post("/api/auth/password", headers=ann, json=body)).status_code == 200
    # Programs keep working: their tokens are deleted on purpose, not by a password change.
    assert (await api.get("/api/auth/me", headers=_bearer(created["token"]))).status_code == 200


async def test_a_token_cannot_mint_tokens_or_change_the_password(
    api: httpx.AsyncClient,
) -> None:
    session = await login(api, "fay")
    api.cookies.clear()
    token = _bearer((await _create(api, session))["token"])
    minted = await api.post("/api/auth/tokens", headers=token, json={"name": "more"})
    assert minted.status_code == 403
    body = {"current_password": PASSWORD, "new_password": "a-new-long-password"}
    assert (await api.post("/api/auth/password", headers=token, json=body)).status_code == 403


async def test_logout_with_a_token_deletes_that_token_only(api: httpx.AsyncClient) -> None:
    session = await login(api, "gil")
    api.cookies.clear()
    token = _bearer((await _create(api, session))["token"])
    assert (await api.post("/api/auth/logout", headers=token)).status_code == 200
    assert (await api.get("/api/auth/me", headers=token)).status_code == 401
    assert (await api.get("/api/auth/me", headers=session)).status_code == 200


async def test_token_requests_are_validated(api: httpx.AsyncClient) -> None:
    session = await login(api, "hal")
    api.cookies.clear()
    bad = [
        {"name": ""}, {"name": "   "}, {"name": "x", "expires_in_days": 0},
        {"name": "x", "expires_in_days": 99999}, {"name": "x", "scope": "all"},
    ]  # fmt: skip
    for body in bad:
        answer = await api.post("/api/auth/tokens", headers=session, json=body)
        assert answer.status_code == 422, body
        assert answer.json()["error"] == "invalid_request" and answer.json()["message"]
    assert (await api.get("/api/auth/tokens")).status_code == 401
