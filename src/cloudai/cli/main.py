"""The `cloudai` command. Each command decodes flags, builds settings, calls one runner."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from cloudai import __version__
from cloudai.cli import render
from cloudai.cli import tasks as task_commands
from cloudai.cli.serve import UpOptions, run_master, run_up, run_worker
from cloudai.config import MasterSettings, WorkerSettings
from cloudai.domain.errors import CloudAIError
from cloudai.logs import configure_logging

app = typer.Typer(
    help="CloudAI: run containerised tasks on a cluster of workers.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # never print tokens from local variables
)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", envvar="CLOUDAI_DATA_DIR", help="State directory.")
]
HttpPort = Annotated[int | None, typer.Option("--http-port", envvar="CLOUDAI_HTTP_PORT")]
GrpcPort = Annotated[int | None, typer.Option("--grpc-port", envvar="CLOUDAI_GRPC_PORT")]
LogLevel = Annotated[str, typer.Option("--log-level", envvar="CLOUDAI_LOG_LEVEL")]
Host = Annotated[
    str | None,
    typer.Option("--host", envvar="CLOUDAI_HOST", help="Listen address (default 127.0.0.1)."),
]


def _given(**values: Any) -> dict[str, Any]:
    """Flags that were set; the rest falls back to CLOUDAI_* variables and defaults."""
    return {k: v for k, v in values.items() if v is not None}


def _run(coro: Any) -> None:
    try:
        asyncio.run(coro)
    except (CloudAIError, ValidationError, OSError) as exc:
        render.error(str(exc))
        raise typer.Exit(1) from exc


@app.command()
def up(
    workers: Annotated[int, typer.Option("--workers", envvar="CLOUDAI_WORKERS", min=1, max=64)] = 1,
    data_dir: DataDir = None,
    http_port: HttpPort = None,
    grpc_port: GrpcPort = None,
    executor: Annotated[
        str | None,
        typer.Option("--executor", envvar="CLOUDAI_EXECUTOR", help="docker | process"),
    ] = None,
    host: Host = None,
    log_level: LogLevel = "WARNING",
) -> None:
    """Start a master and N local workers on embedded SQLite; Ctrl-C stops everything."""
    configure_logging(log_level)
    settings = MasterSettings(
        **_given(
            data_dir=data_dir, http_port=http_port, grpc_port=grpc_port, http_host=host,
            grpc_host=host,
        )
    )  # fmt: skip
    _run(run_up(settings, UpOptions(workers=workers, executor=executor)))


@app.command()
def master(
    data_dir: DataDir = None,
    http_port: HttpPort = None,
    grpc_port: GrpcPort = None,
    db: Annotated[str | None, typer.Option("--db", envvar="CLOUDAI_DB")] = None,
    join_token: Annotated[
        str | None, typer.Option("--join-token", envvar="CLOUDAI_JOIN_TOKEN")
    ] = None,
    host: Host = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Run the master alone (REST on --http-port, gRPC for workers on --grpc-port)."""
    configure_logging(log_level)
    settings = MasterSettings(
        **_given(
            data_dir=data_dir, http_port=http_port, grpc_port=grpc_port, db=db,
            join_token=join_token, http_host=host, grpc_host=host,
        )
    )  # fmt: skip
    _run(run_master(settings))


@app.command()
def worker(
    master: Annotated[str, typer.Option("--master", envvar="CLOUDAI_MASTER", help="HOST:PORT")],
    token: Annotated[str, typer.Option("--token", envvar="CLOUDAI_TOKEN", help="Join token.")],
    port: Annotated[int | None, typer.Option("--port", envvar="CLOUDAI_PORT")] = None,
    worker_id: Annotated[str | None, typer.Option("--id", envvar="CLOUDAI_WORKER_ID")] = None,
    data_dir: DataDir = None,
    host: Annotated[
        str | None, typer.Option("--host", envvar="CLOUDAI_WORKER_HOST", help="Listen address.")
    ] = None,
    advertise: Annotated[
        str | None,
        typer.Option(
            "--advertise", envvar="CLOUDAI_WORKER_ADVERTISE", help="HOST[:PORT] the master dials."
        ),
    ] = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Run a worker that joins the master at --master with the cluster join token."""
    configure_logging(log_level)
    settings = WorkerSettings(
        **_given(
            master=master, token=token, port=port, id=worker_id, data_dir=data_dir, host=host,
            advertise=advertise,
        )
    )  # fmt: skip
    _run(run_worker(settings))


@app.command()
def version() -> None:
    """Print the version."""
    render.out(__version__)


task_commands.register(app)


def run() -> None:
    app()
