"""The web dashboard: the built single-page app (ui/, `scripts/build-ui.sh`) served at `/`.

Hashed assets under `/assets/` are cached for a year (a new build has new names);
`index.html` is never cached, so a new build is seen at the next load. Any other GET
outside the API's own prefixes answers `index.html` (the app routes in the browser).
When the dashboard is not built, `/` answers a short page saying how to build it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, Response

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "ui"

# Paths the API owns: an unknown one there is the API's JSON 404, never the app.
API_PREFIXES = (
    "api",
    "ws",
    "health",
    "livez",
    "readyz",
    "metrics",
    "docs",
    "redoc",
    "openapi.json",
    "telemetry",
    "workers",
)
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CloudAI: dashboard not built</title></head>
<body><main><h1>The CloudAI dashboard is not built</h1>
<p>The API works (<a href="/docs">/docs</a>). To build the dashboard, run
<code>scripts/build-ui.sh</code> from the repository (it needs Node 20 and npm),
then reload this page.</p></main></body></html>
"""


def build_router(static_dir: Path = STATIC_DIR) -> APIRouter:
    """A router serving the app built into `static_dir` (include it last)."""
    router = APIRouter(include_in_schema=False)
    root = static_dir.resolve()

    @router.get("/")
    async def index() -> Response:
        return _index(root)

    @router.get("/{path:path}")
    async def app_path(path: str) -> Response:
        if path.split("/", 1)[0] in API_PREFIXES:
            raise HTTPException(status_code=404)
        asset = _asset(root, path)
        if asset is None and path.startswith("assets/"):
            raise HTTPException(status_code=404)  # a stale build's file: not the app
        if asset is None:
            return _index(root)
        cache = IMMUTABLE if path.startswith("assets/") else NO_CACHE
        return FileResponse(asset, headers={"Cache-Control": cache})

    return router


def _index(root: Path) -> Response:
    page = root / "index.html"
    if not page.is_file():
        return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": NO_CACHE})
    return FileResponse(page, media_type="text/html", headers={"Cache-Control": NO_CACHE})


def _asset(root: Path, path: str) -> Path | None:
    """The file `path` names inside `root`, or None (missing, a folder, or outside)."""
    if not path or "\x00" in path:
        return None
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate
