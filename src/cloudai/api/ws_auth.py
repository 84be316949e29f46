"""Who opens a WebSocket, and from which page.

Browsers cannot set headers on a WebSocket, so besides `Authorization: Bearer` (other
clients) the credential may come as the session cookie or a `?token=` query parameter.
The cookie is sent by any page the browser opens, so a browser's handshake must also
come from an allowed `Origin`: the master's own (same host as the request) or one of
`CLOUDAI_CORS_ORIGINS`. A handshake without `Origin` is not from a browser and is fine.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from starlette.websockets import WebSocket

from cloudai.api.deps import COOKIE_NAME
from cloudai.domain.errors import Forbidden, Unauthorized
from cloudai.domain.users import User
from cloudai.master.core import Services

_DEFAULT_PORTS = {"http": 80, "https": 443}


async def websocket_user(websocket: WebSocket, services: Services) -> User:
    """The authenticated user of the handshake; Unauthorized without a valid credential."""
    token = credential(websocket)
    if token is None:
        raise Unauthorized("authentication required: the session cookie, ?token= or a bearer")
    identity = await services.accounts.identify(token)
    return identity.user


def credential(websocket: WebSocket) -> str | None:
    """The bearer token if sent, else `?token=`, else the session cookie's."""
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    for given in (websocket.query_params.get("token"), websocket.cookies.get(COOKIE_NAME)):
        if given and given.strip():
            return given.strip()
    return None


def check_origin(websocket: WebSocket, allowed: Collection[str]) -> None:
    """Forbidden unless the handshake's `Origin` may open it (see the module docs)."""
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, websocket.headers.get("host"), allowed):
        raise Forbidden(f"origin {origin!r} is not allowed")


def origin_allowed(origin: str | None, host: str | None, allowed: Collection[str]) -> bool:
    if origin is None:
        return True  # not a browser: nothing rides on its cookies
    normal = _normal(origin)
    if normal is None:
        return False  # "null" (a sandboxed page, a file) or garbage
    if normal in {_normal(a) for a in allowed}:
        return True
    scheme = normal.partition("://")[0]
    return host is not None and normal == _normal(f"{scheme}://{host}")


def _normal(origin: str) -> str | None:
    """scheme://host:port, lower case, the port always written; None if not an origin."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"
