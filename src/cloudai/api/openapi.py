"""The OpenAPI document as the API really answers, and the docs pages served offline.

FastAPI's generated document is amended once, from facts about each route:

- routes that need a credential (they depend on `current_identity`) declare 401 and
  403; routes where one is optional (logout) also allow anonymous calls;
- the 422 body is ours (`ValidationErrorOut`), not FastAPI's; 404 where the path has
  parameters, 413 where there is a body, a few known 409/429s, and `default` for the
  rest — each with the error model;
- routes that answer a file declare `application/octet-stream`.

`/docs` (Swagger UI) and `/redoc` load their scripts from the `fastapi-offline`
package, never from a CDN, so they work on a cluster without Internet access.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.responses import FileResponse, StreamingResponse

from cloudai.api.deps import current_identity
from cloudai.api.schemas import ErrorOut, ValidationErrorOut

_REF = "#/components/schemas/{model}"
_ERROR = {"$ref": _REF.format(model="ErrorOut")}
_BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
_WHY = {
    "401": "No credential, or an invalid, expired or revoked one",
    "403": "Authenticated, but not allowed",
    "404": "No such object (or not yours)",
    "409": "Conflicts with what exists (a duplicate, a finished task)",
    "413": "The request body is too large",
    "429": "Over a rate limit or a quota; `Retry-After` says when to retry, if waiting helps",
    "default": "Any other error (503 unavailable, 507 storage full, 500 internal)",
}
# Answers only some operations give, by operation id.
_EXTRA: dict[str, tuple[str, ...]] = {
    "auth_register": ("403", "409"),
    "auth_create_user": ("409",),
    "auth_login": ("429",),
    "auth_change_password": ("429",),
    "auth_create_token": ("429",),
    "tasks_submit": ("429",),
    "tasks_cancel_task": ("409",),
    "admin_update_user": ("409",),
    "admin_register_worker": ("409",),
}


def operation_id(route: APIRoute) -> str:
    """`<tag>_<function>`, e.g. `tasks_submit`: stable, readable client method names."""
    return f"{route.tags[0]}_{route.name}" if route.tags else route.name


def create_documented_app(**settings: Any) -> FastAPI:
    """A FastAPI app with offline /docs and /redoc; `document` it once routed."""
    return FastAPIOffline(generate_unique_id_function=operation_id, **settings)


def document(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Amend the app's OpenAPI document from the routes of `routers` (as declared:
    the included copies are the framework's business)."""
    routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _amend(generate(), routes)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented hook


def _amend(schema: dict[str, Any], routes: list[APIRoute]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    for model in (ErrorOut, ValidationErrorOut):
        _add_model(components, model)
    for route in routes:
        path = schema["paths"].get(route.path_format, {})
        for method in route.methods or ():
            operation = path.get(method.lower())
            if operation is not None:
                _amend_operation(operation, route)


def _add_model(components: dict[str, Any], model: type[BaseModel]) -> None:
    body = model.model_json_schema(ref_template=_REF)
    components.update(body.pop("$defs", {}))
    components[model.__name__] = body


def _amend_operation(operation: dict[str, Any], route: APIRoute) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "security" in operation:
        if _needs_credential(route.dependant):
            _error(responses, "401", "403")
        else:
            operation["security"].append({})  # anonymous calls are fine too
    if "422" in responses:
        invalid = {"$ref": _REF.format(model="ValidationErrorOut")}
        responses["422"] = {
            "description": "The request did not validate",
            "content": {"application/json": {"schema": invalid}},
        }
    if "{" in route.path_format:
        _error(responses, "404")
    if "requestBody" in operation:
        _error(responses, "413")
    _error(responses, *_EXTRA.get(operation["operationId"], ()), "default")
    if _answers_file(route.endpoint):
        for status, answer in responses.items():
            if status.startswith("2"):
                answer["content"] = _BINARY


def _error(responses: dict[str, Any], *statuses: str) -> None:
    for status in statuses:
        responses.setdefault(
            status,
            {"description": _WHY[status], "content": {"application/json": {"schema": _ERROR}}},
        )


def _needs_credential(dependant: Dependant) -> bool:
    return any(d.call is current_identity for d in _walk(dependant))


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


def _answers_file(endpoint: Callable[..., Any]) -> bool:
    try:
        answer = inspect.signature(endpoint, eval_str=True).return_annotation
    except (NameError, TypeError):  # an annotation only a type checker can resolve
        return False
    return inspect.isclass(answer) and issubclass(answer, (FileResponse, StreamingResponse))
