"""Schemathesis over the app's own OpenAPI document, in process: every operation, a few
generated requests each, authenticated as an admin with a real token. No answer may be
a 5xx, and every answer must match the document (status, content type, body).

The master runs on the in-memory store (the store contract suite holds it to the SQL
stores' semantics), so nothing here is bound to the event loop schemathesis calls the
app on.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cloudai.api.app import create_app
from cloudai.domain.users import Role
from cloudai.master.core import CoreOptions, MasterCore, build_core
from cloudai.master.gateway import FakeWorkerGateway
from cloudai.master.registration import FakeInviter
from cloudai.ports import FakeClock
from cloudai.store.memory import InMemoryStore
from tests.integration.api.conftest import PASSWORD

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ADMIN = "fuzz-admin@example.test"


# Loaded at import: schemathesis's fixture-loaded schemas do not work with this pytest.
_DATA = Path(tempfile.gettempdir()) / f"cloudai-fuzz-{uuid.uuid4().hex[:12]}"  # made if used
# The fake inviter answers every pre-registration (POST /api/workers) as a waiting worker.
_CORE = build_core(
    InMemoryStore(), FakeClock(), FakeWorkerGateway(),
    CoreOptions(_DATA, "k" * 32, master_address="127.0.0.1:50051"), inviter=FakeInviter(),
)  # fmt: skip
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_CORE.services))


async def _admin_token(core: MasterCore) -> str:
    await core.accounts.register("fuzz", ADMIN, PASSWORD, role=Role.ADMIN)
    session = await core.accounts.login(ADMIN, PASSWORD, address="127.0.0.1")
    return session.access_token


@pytest.fixture(scope="module")
def auth() -> Iterator[dict[str, str]]:
    token = asyncio.run(_admin_token(_CORE))
    yield {"Authorization": f"Bearer {token}"}
    shutil.rmtree(_DATA, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=timedelta(seconds=5),  # a hung handler fails fast, not at the suite timeout
    database=None,  # no .hypothesis/ left behind
    derandomize=True,  # the same requests every run: CI fails on a change, not on luck
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented(case: Any, auth: dict[str, str]) -> None:
    # Logging out would end the shared session (every login session of the user).
    headers = {} if case.operation.path == "/api/auth/logout" else auth
    if case.operation.path == "/readyz":  # 503 is its documented "not ready" (no loop runs)
        response = case.call_and_validate(headers=headers, checks=CHECKS[1:])
        assert response.status_code < 500 or response.status_code == 503
        return
    case.call_and_validate(headers=headers, checks=CHECKS)
