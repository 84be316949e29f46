"""The FastAPI application factory. No module-level app: the master builds one."""

from __future__ import annotations

from fastapi import FastAPI

from cloudai import __version__
from cloudai.api.errors import install_error_handlers
from cloudai.api.instrument import RequestTimingMiddleware
from cloudai.api.limits import BodyLimitMiddleware
from cloudai.api.routes import auth, cluster, files, health, metrics, scheduling, tasks, workers
from cloudai.master.core import Services


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="CloudAI", version=__version__)
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(RequestTimingMiddleware, metrics=services.metrics)  # outermost: times all
    for module in (health, metrics, auth, tasks, files, scheduling, workers, cluster):
        app.include_router(module.router)
    return app
