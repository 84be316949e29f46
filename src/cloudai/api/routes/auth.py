"""Accounts over REST: registration (open or admin-only), throttled login, the session
cookie, logout and password change (both revoke), personal API tokens, and the admin's
way to add users."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response

from cloudai.api.auth_schemas import (
    AccountOut,
    LogoutOut,
    PasswordIn,
    SessionOut,
    TokenCreatedOut,
    TokenIn,
    TokenListOut,
    TokenOut,
)
from cloudai.api.deps import COOKIE_NAME, Credential, CurrentIdentity, CurrentUser, ServicesDep
from cloudai.api.routes.scheduling import AdminUser
from cloudai.api.schemas import LoginIn, RegisterIn, UserOut
from cloudai.domain.errors import Unauthorized
from cloudai.domain.users import Role
from cloudai.master.accounts import Session

router = APIRouter(tags=["auth"])


class NewUserIn(RegisterIn):
    role: Literal["user", "admin"] = "user"


def _address(request: Request) -> str:
    # The peer's own address: forwarded-for headers are the client's to forge.
    return request.client.host if request.client else "unknown"


def _set_cookie(response: Response, session: Session) -> None:
    # The dashboard uses the HttpOnly cookie; programs use the bearer token in the body.
    response.set_cookie(
        COOKIE_NAME,
        session.access_token,
        max_age=session.expires_in,
        httponly=True,
        samesite="strict",
        path="/",
    )


@router.post("/api/auth/register", status_code=201)
async def register(body: RegisterIn, services: ServicesDep) -> AccountOut:
    user = await services.accounts.sign_up(body.name, body.email, body.password)
    return AccountOut.said(user, "account created: log in")


@router.post("/api/admin/users", status_code=201)
async def create_user(body: NewUserIn, admin: AdminUser, services: ServicesDep) -> UserOut:
    """Admins add accounts, with either role; the only way in when registration is closed."""
    user = await services.accounts.register(body.name, body.email, body.password, Role(body.role))
    return UserOut.of(user)


@router.post("/api/auth/login")
async def login(
    body: LoginIn, request: Request, services: ServicesDep, response: Response
) -> SessionOut:
    session = await services.accounts.login(body.email, body.password, address=_address(request))
    _set_cookie(response, session)
    return SessionOut.of(session, "logged in")


@router.post("/api/auth/logout")
async def logout(token: Credential, services: ServicesDep, response: Response) -> LogoutOut:
    """Ends the credential sent: a login session ends with all of the user's login
    sessions; an API token is deleted. Without a valid one it only clears the cookie."""
    response.delete_cookie(COOKIE_NAME, path="/")
    if token is not None:
        try:
            identity = await services.accounts.identify(token)
        except Unauthorized:
            return LogoutOut(message="logged out")  # nothing left to end
        await services.accounts.logout(identity)
    return LogoutOut(message="logged out")


@router.get("/api/auth/me")
async def me(user: CurrentUser) -> AccountOut:
    return AccountOut.said(user, "authenticated")


@router.post("/api/auth/password")
async def change_password(
    body: PasswordIn,
    identity: CurrentIdentity,
    request: Request,
    services: ServicesDep,
    response: Response,
) -> SessionOut:
    """Ends every login session of the user, this one included, and answers (and sets
    as the cookie) a new one. API tokens stay: list and delete them separately."""
    session = await services.accounts.change_password(
        identity, body.current_password, body.new_password, address=_address(request)
    )
    _set_cookie(response, session)
    return SessionOut.of(session, "password changed: other sessions ended")


@router.post("/api/auth/tokens", status_code=201)
async def create_token(
    body: TokenIn, identity: CurrentIdentity, services: ServicesDep
) -> TokenCreatedOut:
    """A personal API token for programs (`Authorization: Bearer cai_…`). The token is
    in this answer only; the master keeps its hash."""
    issued = await services.accounts.create_api_token(identity, body.name, body.expires_in_days)
    return TokenCreatedOut.issued(issued)


@router.get("/api/auth/tokens")
async def list_tokens(user: CurrentUser, services: ServicesDep) -> TokenListOut:
    tokens = await services.accounts.tokens.list_tokens(user)
    return TokenListOut(tokens=[TokenOut.of(t) for t in tokens])


@router.delete("/api/auth/tokens/{token_id}", status_code=204)
async def delete_token(
    token_id: Annotated[str, Path(max_length=64)], user: CurrentUser, services: ServicesDep
) -> None:
    await services.accounts.tokens.delete(user, token_id)
