"""How fast one page of the task list answers with 100,000 tasks stored.

Fills a fresh SQLite database (in a temporary directory) with N tasks of four users,
then times `GET /api/tasks?limit=50` through the real REST app in process (httpx's
ASGI transport, so no socket noise): the first page for a user and for the admin, a
page deep in the list reached by `cursor`, and — the baseline, measured in the same
run — the same deep page reached by `offset`, which must skip every row before it.

    .venv/bin/python bench/list_tasks.py [--tasks 100000 --repeat 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import Response
from sqlalchemy import insert
from sqlalchemy.engine import Connection

from cloudai.api.app import create_app
from cloudai.domain import lifecycle
from cloudai.domain.resources import Resources
from cloudai.domain.task import TaskSpec
from cloudai.master.core import CoreOptions, MasterCore, build_core
from cloudai.master.gateway import FakeWorkerGateway
from cloudai.ports import FakeClock
from cloudai.store import rows
from cloudai.store.sql import SqlStore, open_store
from cloudai.store.tables import TaskRow

PASSWORD = "bench-password-long"
USERS = 4
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _bulk_insert(batch: list[dict[str, object]]) -> Callable[[Connection], object]:
    return lambda conn: conn.execute(insert(TaskRow), batch)


async def fill(store: SqlStore, count: int, user_ids: list[str]) -> None:
    spec = TaskSpec("img", "true", Resources(1, 0.5, 1))
    batch: list[dict[str, object]] = []
    for n in range(count):
        task = lifecycle.admit(
            spec, task_id=f"task-{n:012d}", user_id=user_ids[n % len(user_ids)],
            at=T0 + timedelta(milliseconds=n), task_type="cpu-light", tau_s=5.0,
        )  # fmt: skip
        batch.append(rows.task_values(task))
        if len(batch) == 5000 or n == count - 1:
            await store._write(_bulk_insert(batch))  # a benchmark may fill in bulk
            batch = []


async def timed(call: object, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = await call()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


async def login(api: httpx.AsyncClient, core: MasterCore, name: str) -> tuple[str, str]:
    email = f"{name}@bench.test"
    await core.accounts.register(name, email, PASSWORD)
    token = (await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})).json()
    return token["user"]["user_id"], f"Bearer {token['access_token']}"


async def main(count: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        core = build_core(store, FakeClock(), FakeWorkerGateway(), CoreOptions(Path(tmp), "k" * 32))
        transport = httpx.ASGITransport(app=create_app(core.services))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as api:
            users = [await login(api, core, f"user{i}") for i in range(USERS)]
            await core.accounts.ensure_admin("root@bench.test", PASSWORD)
            admin = await login_existing(api, "root@bench.test")
            started = time.perf_counter()
            await fill(store, count, [u for u, _ in users])
            print(f"{count} tasks stored in {time.perf_counter() - started:.1f} s; page of 50:")
            await report(api, users[0][1], admin, count, repeat)
        await store.close()


async def login_existing(api: httpx.AsyncClient, email: str) -> str:
    token = (await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})).json()
    return f"Bearer {token['access_token']}"


async def report(api: httpx.AsyncClient, user: str, admin: str, count: int, repeat: int) -> None:
    deep = count // USERS // 2  # halfway down the user's tasks

    async def page(auth: str, **params: object) -> httpx.Response:
        return await api.get(
            "/api/tasks", params={"limit": 50, **params}, headers={"Authorization": auth}
        )

    probe = await page(user, offset=deep - 50)
    cursor = probe.json()["next_cursor"]
    cases = [
        ("first page, one user", lambda: page(user)),
        ("first page, admin (all users)", lambda: page(admin)),
        ("first page, status=queued", lambda: page(user, status="queued")),
        (f"page at row {deep}, by cursor", lambda: page(user, cursor=cursor)),
        (f"page at row {deep}, by offset (baseline)", lambda: page(user, offset=deep)),
    ]
    print(f"{'case':<42}{'median ms':>10}{'p90 ms':>10}")
    medians = {}
    for name, call in cases:
        median, p90 = await timed(call, repeat)
        medians[name] = median
        print(f"{name:<42}{median:>10.1f}{p90:>10.1f}")
    bare = await bare_answer((await page(user)).content, repeat)
    print(f"{'bare FastAPI, the same bytes (baseline)':<42}{bare[0]:>10.1f}{bare[1]:>10.1f}")
    print(f"first page vs bare FastAPI: {medians['first page, one user'] / bare[0]:.1f}x "
          "(target <= 3x)")  # fmt: skip


async def bare_answer(body: bytes, repeat: int) -> tuple[float, float]:
    """The baseline: a FastAPI app with one route answering `body` as it is."""
    app = FastAPI()

    @app.get("/api/tasks")
    async def tasks() -> Response:
        return Response(body, media_type="application/json")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as api:
        return await timed(lambda: api.get("/api/tasks", params={"limit": 50}), repeat)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.repeat))
