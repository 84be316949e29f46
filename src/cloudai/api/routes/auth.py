"""Accounts over REST: registration (open or admin-only), throttled login, the session
cookie, and the admin's way to add users."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response

from cloudai.api.deps import COOKIE_NAME, CurrentUser, ServicesDep
from cloudai.api.routes.scheduling import AdminUser
from cloudai.api.schemas import LoginIn, LoginOut, RegisterIn, UserOut
from cloudai.domain.users import Role

router = APIRouter(tags=["auth"])


class NewUserIn(RegisterIn):
    role: Literal["user", "admin"] = "user"


@router.post("/api/auth/register", status_code=201)
async def register(body: RegisterIn, services: ServicesDep) -> UserOut:
    user = await services.accounts.sign_up(body.name, body.email, body.password)
    return UserOut.of(user)


@router.post("/api/admin/users", status_code=201)
async def create_user(body: NewUserIn, admin: AdminUser, services: ServicesDep) -> UserOut:
    """Admins add accounts, with either role; the only way in when registration is closed."""
    user = await services.accounts.register(body.name, body.email, body.password, Role(body.role))
    return UserOut.of(user)


@router.post("/api/auth/login")
async def login(
    body: LoginIn, request: Request, services: ServicesDep, response: Response
) -> LoginOut:
    # The peer's own address: forwarded-for headers are the client's to forge.
    address = request.client.host if request.client else "unknown"
    session = await services.accounts.login(body.email, body.password, address=address)
    # The dashboard uses the HttpOnly cookie; programs use the bearer token in the body.
    response.set_cookie(
        COOKIE_NAME,
        session.access_token,
        max_age=session.expires_in,
        httponly=True,
        samesite="strict",
        path="/",
    )
    return LoginOut(
        access_token=session.access_token, expires_in=session.expires_in,
        user=UserOut.of(session.user),
    )  # fmt: skip


@router.post("/api/auth/logout")
async def logout(response: Response) -> dict[str, bool]:
    response.delete_cookie(COOKIE_NAME, path="/")
    return {"success": True}


@router.get("/api/auth/me")
async def me(user: CurrentUser) -> UserOut:
    return UserOut.of(user)
