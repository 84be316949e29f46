"""Request-scoped dependencies: the service container and the authenticated caller.

The credential comes as `Authorization: Bearer <token>` (a login JWT or a personal API
token, `cai_…`) or, for the dashboard, the HttpOnly session cookie. Both are FastAPI
security schemes, so the OpenAPI document declares them on every route that needs one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from cloudai.domain.errors import Unauthorized
from cloudai.domain.users import User
from cloudai.master.accounts import Identity
from cloudai.master.core import Services

COOKIE_NAME = "cloudai_token"

_bearer = HTTPBearer(
    auto_error=False,
    description="A login token (`access_token` of /api/auth/login) or an API token (`cai_…`).",
)
_cookie = APIKeyCookie(
    name=COOKIE_NAME, auto_error=False, description="The session cookie login sets (HttpOnly)."
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
Cookie = Annotated[str | None, Depends(_cookie)]


# The dependencies are coroutines even where nothing is awaited: FastAPI runs a plain
# function in a worker thread, two thread hops per request for no work.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def credential(bearer: Bearer, cookie: Cookie) -> str | None:
    """The bearer token if one was sent, else the cookie's; None when neither was."""
    token = bearer.credentials.strip() if bearer is not None else (cookie or "").strip()
    return token or None


Credential = Annotated[str | None, Depends(credential)]


async def current_identity(token: Credential, services: ServicesDep) -> Identity:
    if token is None:
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    return await services.accounts.identify(token)


CurrentIdentity = Annotated[Identity, Depends(current_identity)]


async def current_user(identity: CurrentIdentity) -> User:
    return identity.user


CurrentUser = Annotated[User, Depends(current_user)]
