"""The FastAPI application factory. No module-level app: the master builds one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from cloudai import __version__
from cloudai.api.errors import install_error_handlers
from cloudai.api.instrument import RequestTimingMiddleware
from cloudai.api.limits import BodyLimitMiddleware
from cloudai.api.openapi import create_documented_app, document
from cloudai.api.routes import (
    admin,
    auth,
    cluster,
    files,
    health,
    legacy,
    metrics,
    scheduling,
    tasks,
    ui,
    workers,
    ws,
)
from cloudai.master.core import Services

_DESCRIPTION = (
    "Submit containerised tasks, follow them, fetch their outputs. Authenticate with "
    "`Authorization: Bearer <token>`: the `access_token` of `POST /api/auth/login`, or a "
    "personal API token (`cai_…`, from `POST /api/auth/tokens`). Errors are "
    '`{"error", "detail", "message"}`.'
)


def create_app(
    services: Services, *, cors_origins: Sequence[str] = (), ui_dir: Path = ui.STATIC_DIR
) -> FastAPI:
    """`cors_origins`: browser origins whose pages may call the API with credentials
    (none: no CORS headers, so only same-origin pages can read answers). `ui_dir`: the
    built dashboard, served at `/` (routes/ui.py)."""
    app = create_documented_app(title="CloudAI", version=__version__, description=_DESCRIPTION)
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    if cors_origins:
        # Outside the body limit, so even a 413 reaches the page with its CORS headers.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After", "Content-Disposition"],
            max_age=600,
        )
    app.add_middleware(RequestTimingMiddleware, metrics=services.metrics)  # outermost: times all
    app.state.cors_origins = tuple(cors_origins)  # the WebSocket Origin check allows them too
    modules = (health, metrics, auth, tasks, files, scheduling, workers, cluster, ws, legacy, admin)
    routers = [module.router for module in modules]
    for router in routers:
        app.include_router(router)
    document(app, routers)
    app.include_router(ui.build_router(ui_dir))  # last: its fallback catches the rest
    return app
