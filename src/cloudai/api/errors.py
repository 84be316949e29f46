"""Domain errors -> HTTP statuses with a JSON body: one table."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cloudai.domain.errors import (
    CloudAIError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    Unauthorized,
    Unavailable,
)

_STATUS: list[tuple[type[CloudAIError], int, str]] = [
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (InvalidRequest, 422, "invalid_request"),
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (Unavailable, 503, "unavailable"),
]


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CloudAIError)
    for kind, status, code in _STATUS:
        if isinstance(exc, kind):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return JSONResponse({"error": code, "detail": str(exc)}, status, headers=headers)
    return JSONResponse({"error": "internal", "detail": str(exc)}, 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CloudAIError, _handle)
