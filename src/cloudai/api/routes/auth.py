from __future__ import annotations

from fastapi import APIRouter, Response

from cloudai.api.deps import COOKIE_NAME, CurrentUser, ServicesDep
from cloudai.api.schemas import LoginIn, LoginOut, RegisterIn, UserOut

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register", status_code=201)
async def register(body: RegisterIn, services: ServicesDep) -> UserOut:
    user = await services.accounts.register(body.name, body.email, body.password)
    return UserOut.of(user)


@router.post("/login")
async def login(body: LoginIn, services: ServicesDep, response: Response) -> LoginOut:
    session = await services.accounts.login(body.email, body.password)
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


@router.post("/logout")
async def logout(response: Response) -> dict[str, bool]:
    response.delete_cookie(COOKIE_NAME, path="/")
    return {"success": True}


@router.get("/me")
async def me(user: CurrentUser) -> UserOut:
    return UserOut.of(user)
