"""Verbs about the cluster rather than one task: the live cluster view, workers, one
worker's live view, the queue, and the admin's drain / cordon / open."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import RenderableType

from cloudai.cli import ids, render, render_cluster, suggest
from cloudai.cli.client import Client
from cloudai.cli.session import Format, JsonFlag, Output, session, wants_json

WorkerId = Annotated[
    str,
    typer.Argument(
        metavar="WORKER_ID",
        show_default=False,
        autocompletion=suggest.complete_worker_id,
        help="Or its unambiguous beginning.",
    ),
]
Watch = Annotated[
    bool, typer.Option("--watch", "-w", help="Refresh in place until q (exit 0) or Ctrl-C (130).")
]
Interval = Annotated[float, typer.Option("--interval", min=0.2, help="Seconds between refreshes.")]


def cluster_status(client: Client, output: Format, json_flag: bool, watch: bool,
                   interval: float) -> None:  # fmt: skip
    """`cloudai status` without a task: the cluster at a glance."""
    if wants_json(output, json_flag):
        render.json_doc({"stats": client.stats(), "workers": client.workers()["workers"]})
        return

    def frame() -> RenderableType:
        return render_cluster.cluster_view(client.stats(), client.workers())

    if watch:
        render.live(frame, interval)
    else:
        render.view(frame())


def workers(output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """The worker table: status, eligibility, allocation, usage, tasks."""
    with session() as client:
        listing = client.workers()
    if wants_json(output, json_flag):
        render.json_doc(listing)
    else:
        render_cluster.workers(listing)


def stats(
    worker_id: WorkerId, watch: Watch = False, interval: Interval = 2.0,
    output: Output = Format.TABLE, json_flag: JsonFlag = False,
) -> None:  # fmt: skip
    """One worker: resources, recent usage, what it runs (live with --watch)."""
    with session() as client:
        worker_id = ids.worker(client, worker_id)
        if wants_json(output, json_flag):
            detail = client.worker(worker_id)
            render.json_doc({**detail, "metrics": client.worker_metrics(worker_id)["samples"]})
            return

        def frame() -> RenderableType:
            return render_cluster.worker_view(
                client.worker(worker_id), client.worker_metrics(worker_id)
            )

        if watch:
            render.live(frame, interval)
        else:
            render.view(frame())


def queue(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    cursor: Annotated[str | None, typer.Option("--cursor", help="From a previous page.")] = None,
    output: Output = Format.TABLE, json_flag: JsonFlag = False,
) -> None:  # fmt: skip
    """Queued tasks in queue order, with their position and why each waits."""
    with session() as client:
        page = client.queue(limit, cursor)
    if wants_json(output, json_flag):
        render.json_doc(page)
    else:
        render_cluster.queue(page)


def _eligibility(state: str, worker_id: str) -> None:
    with session() as client:
        worker = client.set_eligibility(ids.worker(client, worker_id), state)
    render.line(f"{worker['worker_id']}: {worker['eligibility']}")


def drain(worker_id: WorkerId) -> None:
    """Admins: the worker finishes what it runs and takes nothing new."""
    _eligibility("drain", worker_id)


def cordon(worker_id: WorkerId) -> None:
    """Admins: the worker takes nothing new (what it runs goes on)."""
    _eligibility("cordon", worker_id)


def uncordon(worker_id: WorkerId) -> None:
    """Admins: open a drained or cordoned worker to new work again."""
    _eligibility("open", worker_id)


def register(app: typer.Typer) -> None:
    app.command("workers")(workers)
    app.command("stats")(stats)
    app.command("queue")(queue)
    app.command("drain")(drain)
    app.command("cordon")(cordon)
    app.command("uncordon")(uncordon)
