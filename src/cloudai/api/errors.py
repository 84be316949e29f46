"""Domain errors -> HTTP statuses with a JSON body: one table."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

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


def _body(code: str, text: str, **extra: object) -> dict[str, object]:
    # `message` repeats `detail`: the seed's clients show `message`, ours read `detail`.
    return {"error": code, "detail": text, "message": text, **extra}


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CloudAIError)
    for kind, status, code in _STATUS:
        if isinstance(exc, kind):
            # Every 422 has the validation shape: a service's refusal names no field.
            extra: dict[str, object] = {"errors": []} if status == 422 else {}
            body = _body(code, str(exc), **extra)
            return JSONResponse(body, status, headers=_headers(exc))
    return JSONResponse(_body("internal", str(exc)), 500)


def _headers(exc: CloudAIError) -> dict[str, str] | None:
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, TooManyRequests) and exc.retry_after_s is not None:
        return {"Retry-After": str(exc.retry_after_s)}
    return None


# Sentences a form can show as they are, for the commonest problems.
_PLAIN = {
    "missing": "{field} is required",
    "string_too_short": "{field} must be at least {min_length} characters",
    "string_too_long": "{field} must be at most {max_length} characters",
    "extra_forbidden": "{field} is not a known field",
    "json_invalid": "the body is not valid JSON",
}
_PLACES = ("body", "query", "path", "header", "cookie")


def _plain(err: Mapping[str, Any]) -> str:
    where = [str(p) for p in err.get("loc", ())]
    if where and where[0] in _PLACES:
        where = where[1:]
    field = ".".join(where) or "the request"
    template = _PLAIN.get(str(err.get("type", "")))
    if template is not None:
        with contextlib.suppress(KeyError, IndexError):
            return template.format(field=field, **(err.get("ctx") or {}))
    return f"{field}: {str(err.get('msg', '')).removeprefix('Value error, ')}"


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    problems = [
        {"field": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
        for err in errors
    ]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    message = _plain(errors[0]) if errors else "the request is not valid"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    body = {"error": "invalid_request", "detail": summary, "message": message, "errors": problems}
    return JSONResponse(body, 422)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    # The exception itself goes to the server's log (Starlette re-raises it), not out.
    return JSONResponse(_body("internal", "internal server error"), 500)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as {"error": <code>, "detail": <text>, "message": <text>}
    (422 adds "errors"; its "message" is the first problem in plain words)."""
    app.add_exception_handler(CloudAIError, _handle)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _internal)
