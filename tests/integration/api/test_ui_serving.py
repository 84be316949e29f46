"""The master serves the built dashboard at `/` with an app fallback and cache headers,
and a page saying how to build it when it is not built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cloudai.api.app import create_app
from cloudai.master.core import MasterCore

INDEX = "<!doctype html><title>CloudAI</title><div id=root></div>"


async def _client(core: MasterCore, ui_dir: Path) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(core.services, ui_dir=ui_dir))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def built(core: MasterCore, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    ui_dir = tmp_path / "ui-built"
    (ui_dir / "assets").mkdir(parents=True)
    (ui_dir / "index.html").write_text(INDEX)
    (ui_dir / "assets" / "index-3f2c9a.js").write_text("console.log('app')")
    (ui_dir / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside")
    async with await _client(core, ui_dir) as client:
        yield client


async def test_index_is_served_uncached_at_root_and_for_app_paths(
    built: httpx.AsyncClient,
) -> None:
    for path in ("/", "/tasks", "/tasks/task-123", "/admin/users?x=1"):
        answer = await built.get(path)
        assert answer.status_code == 200, path
        assert answer.text == INDEX
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_cached_long_and_other_files_are_not(
    built: httpx.AsyncClient,
) -> None:
    asset = await built.get("/assets/index-3f2c9a.js")
    assert asset.status_code == 200 and asset.text == "console.log('app')"
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    icon = await built.get("/favicon.svg")
    assert icon.status_code == 200 and icon.headers["cache-control"] == "no-cache"
    missing = await built.get("/assets/index-old.js")
    assert missing.status_code == 404


async def test_api_paths_keep_their_json_answers(built: httpx.AsyncClient) -> None:
    for path in ("/api/nope", "/ws/nope", "/workers/x/y", "/telemetry/a/b", "/metricsx/y"):
        answer = await built.get(path)
        if path.startswith("/metricsx"):
            assert answer.text == INDEX  # only whole segments are the API's
            continue
        assert answer.status_code == 404, path
        assert answer.json()["error"] == "not_found"
    health = await built.get("/health")
    assert health.status_code == 200 and "status" in health.json()
    tasks = await built.get("/api/tasks")
    assert tasks.status_code == 401


async def test_no_file_outside_the_build_is_served(built: httpx.AsyncClient) -> None:
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"):
        answer = await built.get(path)
        assert "outside" not in answer.text, path


async def test_not_built_says_how_to_build(core: MasterCore, tmp_path: Path) -> None:
    async with await _client(core, tmp_path / "never-built") as client:
        for path in ("/", "/tasks"):
            answer = await client.get(path)
            assert answer.status_code == 503
            assert answer.headers["content-type"].startswith("text/html")
            assert "scripts/build-ui.sh" in answer.text
        assert (await client.get("/api/nope")).status_code == 404
