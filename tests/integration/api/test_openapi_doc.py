"""The OpenAPI document tells the truth about auth, errors and downloads, and the docs
pages work without a CDN."""

from __future__ import annotations

import re
from typing import Any

import httpx

ERROR_REF = "#/components/schemas/ErrorOut"


async def _schema(api: httpx.AsyncClient) -> dict[str, Any]:
    answer = await api.get("/openapi.json")
    assert answer.status_code == 200
    schema: dict[str, Any] = answer.json()
    return schema


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op) for path, item in schema["paths"].items() for method, op in item.items()
    ]


def _ref(op: dict[str, Any], status: str) -> str:
    ref: str = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
    return ref


async def test_security_schemes_are_declared_and_required_where_the_api_needs_them(
    api: httpx.AsyncClient,
) -> None:
    schema = await _schema(api)
    schemes = schema["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {**schemes["HTTPBearer"], "type": "http", "scheme": "bearer"}
    assert schemes["APIKeyCookie"]["in"] == "cookie"
    assert schemes["APIKeyCookie"]["name"] == "cloudai_token"
    secured = 0
    for method, path, op in _operations(schema):
        security = op.get("security")
        if security is None or {} in security:
            continue  # public, or credential optional (logout)
        secured += 1
        assert _ref(op, "401") == _ref(op, "403") == ERROR_REF, (method, path)
        # ... and the API agrees: without a credential, 401 before anything else.
        url = re.sub(r"\{[^}]+\}", "x", path)
        answer = await api.request(method.upper(), url, json={} if "requestBody" in op else None)
        assert answer.status_code == 401, (method, path, answer.text)
    assert secured >= 25
    public = {path for method, path, op in _operations(schema) if "security" not in op}
    assert {"/health", "/api/auth/login", "/api/auth/register"} <= public
    assert {} in schema["paths"]["/api/auth/logout"]["post"]["security"]


async def test_errors_are_declared_with_our_bodies(api: httpx.AsyncClient) -> None:
    schema = await _schema(api)
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components
    assert set(components["ErrorOut"]["required"]) == {"error", "detail", "message"}
    assert "errors" in components["ValidationErrorOut"]["properties"]
    for _method, _path, op in _operations(schema):
        assert _ref(op, "default") == ERROR_REF
        if "422" in op["responses"]:
            assert _ref(op, "422") == "#/components/schemas/ValidationErrorOut"
    submit = schema["paths"]["/api/tasks"]["post"]
    assert {"401", "403", "413", "422", "429"} <= set(submit["responses"])
    assert _ref(schema["paths"]["/api/tasks/{task_id}"]["get"], "404") == ERROR_REF
    assert "409" in schema["paths"]["/api/auth/register"]["post"]["responses"]


async def test_downloads_are_binary_and_operation_ids_readable(api: httpx.AsyncClient) -> None:
    schema = await _schema(api)
    download = schema["paths"]["/api/files/{task_id}/download/{path}"]["get"]
    content = download["responses"]["200"]["content"]
    assert content == {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
    ids = [op["operationId"] for _m, _p, op in _operations(schema)]
    assert len(ids) == len(set(ids))
    assert {"tasks_submit", "auth_login", "auth_create_token", "files_download"} <= set(ids)
    assert all(re.fullmatch(r"[a-z]+_[a-z_]+", i) for i in ids), ids


async def test_the_docs_pages_load_their_assets_from_the_master(api: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        html = (await api.get(page)).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        scripts = [a for a in assets if a.endswith(".js")]
        assert scripts, page
        for asset in assets:
            assert asset.startswith("/"), (page, asset)  # nothing from a CDN
            assert (await api.get(asset)).status_code == 200, asset
        assert "/openapi.json" in html
