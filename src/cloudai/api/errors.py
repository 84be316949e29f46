"""Domain errors -> HTTP statuses with a JSON body: one table."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloudai.domain.errors import (
    CloudAIError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    StorageFull,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)

_STATUS: list[tuple[type[CloudAIError], int, str]] = [
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (InvalidRequest, 422, "invalid_request"),
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (TooManyRequests, 429, "too_many_requests"),
    (StorageFull, 507, "storage_full"),
    (Unavailable, 503, "unavailable"),
]


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CloudAIError)
    for kind, status, code in _STATUS:
        if isinstance(exc, kind):
            return JSONResponse({"error": code, "detail": str(exc)}, status, headers=_headers(exc))
    return JSONResponse({"error": "internal", "detail": str(exc)}, 500)


def _headers(exc: CloudAIError) -> dict[str, str] | None:
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, TooManyRequests) and exc.retry_after_s is not None:
        return {"Retry-After": str(exc.retry_after_s)}
    return None


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return JSONResponse({"error": "invalid_request", "detail": summary, "errors": problems}, 422)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        {"error": code, "detail": str(exc.detail)}, exc.status_code, headers=exc.headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as {"error": <code>, "detail": <text>} (422 adds "errors")."""
    app.add_exception_handler(CloudAIError, _handle)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
