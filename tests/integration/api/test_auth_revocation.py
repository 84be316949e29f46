"""Credentials end when they should: forged, expired, logged out, password changed,
deleted. Each refused one answers 401 with the error body."""

from __future__ import annotations

import base64
import json

import httpx
import jwt

from cloudai.master.core import MasterCore
from tests.integration.api.conftest import PASSWORD, login

NEW_PASSWORD = "another-long-password"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _status(api: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await api.get("/api/auth/me", headers=headers)).status_code


def _unsigned(token: str) -> str:
    """The same claims with `alg: none` and no signature."""
    claims = token.split(".")[1]
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header.decode().rstrip('=')}.{claims}."


async def test_alg_none_and_a_wrong_key_are_refused(api: httpx.AsyncClient) -> None:
    headers = await login(api, "ann")
    token = headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    for forged in (_unsigned(token), jwt.encode(claims, "w" * 32, "HS256")):
        answer = await api.get("/api/auth/me", headers=_bearer(forged))
        assert answer.status_code == 401
        assert answer.json()["error"] == "unauthorized" and answer.json()["message"]
    assert await _status(api, headers) == 200  # the real one still works


async def test_an_expired_login_token_is_refused(api: httpx.AsyncClient, core: MasterCore) -> None:
    headers = await login(api, "old")
    core.clock.advance(24 * 3600)  # exactly the lifetime: expired
    assert await _status(api, headers) == 401


async def test_logout_revokes_the_token_and_the_users_other_sessions(
    api: httpx.AsyncClient,
) -> None:
    first = await login(api, "bea")
    second = await api.post(
        "/api/auth/login", json={"email": "bea@example.test", "password": PASSWORD}
    )
    other = _bearer(second.json()["access_token"])
    bystander = await login(api, "cy")
    api.cookies.clear()
    answer = await api.post("/api/auth/logout", headers=first)
    assert answer.status_code == 200 and answer.json() == {"success": True, "message": "logged out"}
    assert await _status(api, first) == 401
    assert await _status(api, other) == 401  # logout ends every login session of the user
    assert await _status(api, bystander) == 200  # and nobody else's
    again = await api.post("/api/auth/logout", headers=first)  # a dead token: still fine
    assert again.status_code == 200


async def test_logout_by_cookie_revokes_the_cookies_token(api: httpx.AsyncClient) -> None:
    headers = await login(api, "dee")  # the login also set the cookie
    await api.post("/api/auth/logout")
    assert (await api.get("/api/auth/me")).status_code == 401
    assert await _status(api, headers) == 401


async def test_password_change_revokes_other_sessions_and_answers_a_new_one(
    api: httpx.AsyncClient,
) -> None:
    old = await login(api, "eve")
    api.cookies.clear()
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    changed = await api.post("/api/auth/password", headers=old, json=body)
    assert changed.status_code == 200, changed.text
    assert changed.json()["success"] is True and changed.json()["user"]["email"]
    assert await _status(api, old) == 401
    assert await _status(api, _bearer(changed.json()["access_token"])) == 200
    assert (await api.get("/api/auth/me")).status_code == 200  # the new cookie
    login_body = {"email": "eve@example.test", "password": PASSWORD}
    assert (await api.post("/api/auth/login", json=login_body)).status_code == 401
    login_body["password"] = NEW_PASSWORD
    assert (await api.post("/api/auth/login", json=login_body)).status_code == 200


async def test_password_change_refuses_a_wrong_current_or_short_new_password(
    api: httpx.AsyncClient,
) -> None:
    headers = await login(api, "fay")
    api.cookies.clear()
    wrong = {"current_password": "not-the-password", "new_password": NEW_PASSWORD}
    refused = await api.post("/api/auth/password", headers=headers, json=wrong)
    assert refused.status_code == 403 and "current password" in refused.json()["message"]
    short = {"current_password": PASSWORD, "new_password": "short"}
    invalid = await api.post("/api/auth/password", headers=headers, json=short)
    assert invalid.status_code == 422
    assert invalid.json()["message"] == "new_password must be at least 8 characters"
    assert await _status(api, headers) == 200  # nothing changed, nothing revoked
    assert (await api.post("/api/auth/password", json=wrong)).status_code == 401
