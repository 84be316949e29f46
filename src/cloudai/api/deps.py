"""Request-scoped dependencies: the service container and the authenticated user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cloudai.domain.errors import Unauthorized
from cloudai.domain.users import User
from cloudai.master.core import Services

COOKIE_NAME = "cloudai_token"


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_user(request: Request, services: ServicesDep) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        token = request.cookies.get(COOKIE_NAME, "")
    if not token:
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    return await services.accounts.authenticate(token.strip())


CurrentUser = Annotated[User, Depends(current_user)]
