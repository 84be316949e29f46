"""Request-scoped dependencies: the service container and the authenticated user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from cloudai.domain.errors import Unauthorized
from cloudai.domain.users import User
from cloudai.master.accounts import AccountService
from cloudai.master.dispatcher import Dispatcher
from cloudai.master.files import FileArea
from cloudai.master.logs import LogService
from cloudai.master.registry import WorkerRegistry
from cloudai.master.tasks import TaskService

COOKIE_NAME = "cloudai_token"


@dataclass(frozen=True, slots=True)
class Services:
    accounts: AccountService
    tasks: TaskService
    logs: LogService
    files: FileArea
    registry: WorkerRegistry
    dispatcher: Dispatcher


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_user(request: Request, services: ServicesDep) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        token = request.cookies.get(COOKIE_NAME, "")
    if not token:
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    return await services.accounts.authenticate(token.strip())


CurrentUser = Annotated[User, Depends(current_user)]
