"""The FastAPI application factory. No module-level app: the master builds one."""

from __future__ import annotations

from fastapi import FastAPI

from cloudai import __version__
from cloudai.api.errors import install_error_handlers
from cloudai.api.limits import BodyLimitMiddleware
from cloudai.api.routes import auth, files, health, scheduling, tasks
from cloudai.master.core import Services


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="CloudAI", version=__version__)
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    for module in (health, auth, tasks, files, scheduling):
        app.include_router(module.router)
    return app
