"""Admins list users, disable (revoking sessions and API tokens at once) and enable
them, make and unmake admins; never themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cloudai.domain.users import Role
from tests.integration.api.admin_support import Admin, running_admin
from tests.integration.api.cluster_support import ADMIN_EMAIL, admin_headers, anonymous
from tests.integration.api.conftest import PASSWORD, login


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[Admin]:
    async with running_admin(tmp_path) as running:
        yield running


async def _user_id(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    me = await api.get("/api/auth/me", headers=headers)
    user_id: str = me.json()["user_id"]
    return user_id


async def test_the_user_list_has_the_contracts_shape(admin: Admin) -> None:
    root = await admin_headers(admin.api, admin.core)
    admin.clock.advance(1)  # the list is oldest first; ties would go by random id
    await login(admin.api, "ann")
    answer = await admin.api.get("/api/admin/users", headers=root)
    assert answer.status_code == 200, answer.text
    users = answer.json()["users"]
    assert [(u["email"], u["is_admin"], u["disabled"]) for u in users] == [
        (ADMIN_EMAIL, True, False),
        ("ann@example.test", False, False),
    ]
    assert set(users[1]) == {"id", "name", "email", "is_admin", "disabled", "created_at"}


async def test_admin_user_routes_need_an_admin(admin: Admin) -> None:
    ann = await login(admin.api, "ann")
    target = await _user_id(admin.api, ann)
    for method, path in (("GET", "/api/admin/users"), ("PATCH", f"/api/admin/users/{target}")):
        refused = await admin.api.request(method, path, headers=ann, json={"disabled": True})
        assert refused.status_code == 403, (method, refused.text)
        assert (await anonymous(admin.api, method, path)).status_code == 401


async def test_disabling_revokes_sessions_and_tokens_and_refuses_login(admin: Admin) -> None:
    api = admin.api
    root = await admin_headers(api, admin.core)
    ann = await login(api, "ann")
    token = (await api.post("/api/auth/tokens", headers=ann, json={"name": "ci"})).json()["token"]
    ann_id = await _user_id(api, ann)
    api.cookies.clear()
    changed = await api.patch(f"/api/admin/users/{ann_id}", headers=root, json={"disabled": True})
    assert changed.status_code == 200, changed.text
    assert changed.json()["disabled"] is True and changed.json()["id"] == ann_id
    for credential in (ann, {"Authorization": f"Bearer {token}"}):
        assert (await api.get("/api/tasks", headers=credential)).status_code == 401
    refused = await api.post(
        "/api/auth/login", json={"email": "ann@example.test", "password": PASSWORD}
    )
    assert refused.status_code == 401 and "disabled" in refused.json()["detail"]
    assert await admin.core.store.list_api_tokens(ann_id) == []

    enabled = await api.patch(f"/api/admin/users/{ann_id}", headers=root, json={"disabled": False})
    assert enabled.json()["disabled"] is False
    assert (await api.get("/api/tasks", headers=ann)).status_code == 401  # stays revoked
    again = await api.post(
        "/api/auth/login", json={"email": "ann@example.test", "password": PASSWORD}
    )
    assert again.status_code == 200


async def test_make_and_unmake_admin(admin: Admin) -> None:
    api = admin.api
    root = await admin_headers(api, admin.core)
    ann = await login(api, "ann")
    ann_id = await _user_id(api, ann)
    assert (await api.get("/api/admin/users", headers=ann)).status_code == 403
    made = await api.patch(f"/api/admin/users/{ann_id}", headers=root, json={"is_admin": True})
    assert made.status_code == 200 and made.json()["is_admin"] is True
    assert (await api.get("/api/admin/users", headers=ann)).status_code == 200
    unmade = await api.patch(f"/api/admin/users/{ann_id}", headers=root, json={"is_admin": False})
    assert unmade.json()["is_admin"] is False
    stored = await admin.core.store.get_user(ann_id)
    assert stored is not None and stored.role is Role.USER
    assert (await api.get("/api/admin/users", headers=ann)).status_code == 403


async def test_an_admin_cannot_disable_or_demote_themselves(admin: Admin) -> None:
    root = await admin_headers(admin.api, admin.core)
    root_id = await _user_id(admin.api, root)
    for body in ({"disabled": True}, {"is_admin": False}):
        refused = await admin.api.patch(f"/api/admin/users/{root_id}", headers=root, json=body)
        assert refused.status_code == 409, refused.text
        assert refused.json()["message"]
    stored = await admin.core.store.get_user(root_id)
    assert stored is not None and stored.role is Role.ADMIN and not stored.disabled


async def test_unknown_users_and_bad_bodies(admin: Admin) -> None:
    root = await admin_headers(admin.api, admin.core)
    missing = await admin.api.patch(
        "/api/admin/users/u-nope", headers=root, json={"disabled": True}
    )
    assert missing.status_code == 404
    ann_id = await _user_id(admin.api, await login(admin.api, "ann"))
    for body in ({"disabled": "maybe"}, {"role": "admin"}):
        bad = await admin.api.patch(f"/api/admin/users/{ann_id}", headers=root, json=body)
        assert bad.status_code == 422, (body, bad.text)
