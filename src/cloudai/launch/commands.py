"""`cloudai up`, `cloudai master`, `cloudai worker`, `cloudai agent`: their flags, and
nothing heavy.

Each body imports its process (the master, the worker, FastAPI, SQLAlchemy, gRPC, the
Docker SDK) only when it runs, so `cloudai --help` and the HTTP verbs start without them.
Every flag reads exactly one CLOUDAI_ variable, the one its help shows, and it is the
variable `cloudai.config` reads for the same setting (tests/unit/cli checks they agree).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

# The same choices as cloudai.config's SchedulerName and ExecutorKind, repeated here because
# importing the settings module costs pydantic (a third of a second) on every command.
Scheduler = Literal["round_robin", "best_fit", "spread", "rts", "agent"]
Executor = Literal["docker", "process"]
ShutdownMode = Literal["stop", "drain", "leave"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]

_STATE = "$STATE_DIRECTORY under systemd, else"
MasterDataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", envvar="CLOUDAI_DATA_DIR", help="Database, secrets and task files.",
        show_default=f"{_STATE} $XDG_DATA_HOME/cloudai",
    ),
]  # fmt: skip
Host = Annotated[
    str, typer.Option("--host", envvar="CLOUDAI_HOST", help="Listen address of REST and gRPC.")
]
HttpPort = Annotated[
    int,
    typer.Option(
        "--http-port", envvar="CLOUDAI_HTTP_PORT", min=0, max=65535, help="REST API; 0: any."
    ),
]
GrpcPort = Annotated[
    int,
    typer.Option(
        "--grpc-port", envvar="CLOUDAI_GRPC_PORT", min=0, max=65535, help="For workers; 0: any."
    ),
]
SchedulerOption = Annotated[
    Scheduler,
    typer.Option("--scheduler", envvar="CLOUDAI_SCHEDULER", help="How queued tasks are placed."),
]
LogLevelOption = Annotated[
    LogLevel, typer.Option("--log-level", envvar="CLOUDAI_LOG_LEVEL", case_sensitive=False)
]
Workers = Annotated[
    int,
    typer.Option(
        "--workers", envvar="CLOUDAI_WORKERS", min=1, max=64,
        help="Local workers; they share this machine's capacity evenly.",
    ),
]  # fmt: skip
UpExecutor = Annotated[
    Executor | None,
    typer.Option(
        "--executor", envvar="CLOUDAI_EXECUTOR", help="How tasks run.",
        show_default="docker when dockerd answers, else process (unsandboxed)",
    ),
]  # fmt: skip
Db = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="CLOUDAI_DB", show_default="SQLite in the data directory",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user:pass@host/db "
        "(needs pip install 'cloudai\\[postgres]').",
    ),
]  # fmt: skip
MasterJoinToken = Annotated[
    str | None,
    typer.Option(
        "--join-token", envvar="CLOUDAI_JOIN_TOKEN", help="Workers must present it.",
        show_default="generated once, kept in DATA_DIR/secrets/join-token",
    ),
]  # fmt: skip


def up(
    workers: Workers = 1, executor: UpExecutor = None, data_dir: MasterDataDir = None,
    host: Host = "127.0.0.1", http_port: HttpPort = 8080, grpc_port: GrpcPort = 50051,
    scheduler: SchedulerOption = "round_robin", log_level: LogLevelOption = "warning",
) -> None:  # fmt: skip
    """Start a master and local workers on embedded SQLite; Ctrl-C stops everything."""
    from cloudai.launch import run  # the whole server side, loaded only now

    fields = _given(data_dir=data_dir, http_host=host, grpc_host=host, http_port=http_port,
                    grpc_port=grpc_port, scheduler=scheduler)  # fmt: skip
    run.up(log_level, fields, workers=workers, executor=executor)


def master(
    data_dir: MasterDataDir = None, host: Host = "127.0.0.1", http_port: HttpPort = 8080,
    grpc_port: GrpcPort = 50051, db: Db = None, join_token: MasterJoinToken = None,
    scheduler: SchedulerOption = "round_robin", log_level: LogLevelOption = "info",
) -> None:  # fmt: skip
    """Run the master alone: REST on --http-port, gRPC for workers on --grpc-port."""
    from cloudai.launch import run

    fields = _given(data_dir=data_dir, http_host=host, grpc_host=host, http_port=http_port,
                    grpc_port=grpc_port, db=db, join_token=join_token,
                    scheduler=scheduler)  # fmt: skip
    run.master(log_level, fields)


MasterAddress = Annotated[
    str,
    typer.Option(
        "--master", envvar="CLOUDAI_MASTER", show_default=False,
        help="The master's gRPC address, HOST:PORT.",
    ),
]  # fmt: skip
WorkerJoinToken = Annotated[
    str | None,
    typer.Option(
        "--join-token", envvar="CLOUDAI_JOIN_TOKEN", show_default=False,
        help="The cluster's join token (the master prints it, and keeps it in "
        "DATA_DIR/secrets/join-token). Required.",
    ),
]  # fmt: skip
# The flag's old name, accepted quietly; it reads no variable (CLOUDAI_TOKEN is the CLI's).
OldJoinToken = Annotated[str | None, typer.Option("--token", hidden=True)]
WorkerHost = Annotated[
    str, typer.Option("--host", envvar="CLOUDAI_WORKER_HOST", help="Listen address.")
]
WorkerPort = Annotated[
    int,
    typer.Option("--port", envvar="CLOUDAI_WORKER_PORT", min=0, max=65535, help="gRPC; 0: any."),
]
Advertise = Annotated[
    str | None,
    typer.Option(
        "--advertise", envvar="CLOUDAI_WORKER_ADVERTISE", show_default="the listen address",
        help="HOST[:PORT] the master dials.",
    ),
]  # fmt: skip
WorkerId = Annotated[
    str | None,
    typer.Option(
        "--id", envvar="CLOUDAI_WORKER_ID", show_default="HOSTNAME-PORT", help="Worker id."
    ),
]
WorkerDataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", envvar="CLOUDAI_DATA_DIR", help="Task logs and outputs.",
        show_default=f"{_STATE} $XDG_DATA_HOME/cloudai/worker",
    ),
]  # fmt: skip
WorkerExecutor = Annotated[
    Executor,
    typer.Option(
        "--executor", envvar="CLOUDAI_EXECUTOR",
        help="docker: sandboxed containers; process: plain local processes, unsandboxed.",
    ),
]  # fmt: skip

OnShutdown = Annotated[
    ShutdownMode,
    typer.Option(
        "--on-shutdown", envvar="CLOUDAI_WORKER_ON_SHUTDOWN",
        help="On SIGTERM/Ctrl-C: stop running tasks (requeued), drain them (finish, take "
        "none new), or leave them running for the next start to re-attach to.",
    ),
]  # fmt: skip


WorkerMaster = Annotated[
    str | None,
    typer.Option(
        "--master", envvar="CLOUDAI_MASTER", show_default=False,
        help="The master's gRPC address, HOST:PORT (with --wait-for-master: the master says).",
    ),
]  # fmt: skip
WaitForMaster = Annotated[
    bool,
    typer.Option(
        "--wait-for-master", envvar="CLOUDAI_WORKER_WAIT_FOR_MASTER",
        help="No join token: wait until an admin registers this worker (`cloudai register "
        "ADDRESS`); the master then calls it with a one-time registration token.",
    ),
]  # fmt: skip


def worker(
    master: WorkerMaster = None, join_token: WorkerJoinToken = None, token: OldJoinToken = None,
    host: WorkerHost = "127.0.0.1", port: WorkerPort = 50052, advertise: Advertise = None,
    worker_id: WorkerId = None, data_dir: WorkerDataDir = None,
    executor: WorkerExecutor = "docker", log_level: LogLevelOption = "info",
    on_shutdown: OnShutdown = "stop", wait_for_master: WaitForMaster = False,
) -> None:  # fmt: skip
    """Run a worker that joins the master at --master with the cluster's join token.

    With --wait-for-master (and no join token) it waits until an admin registers it."""
    secret = join_token or token
    _check_joining(master, secret, wait_for_master)
    from cloudai.launch import run

    fields = _given(master=master, token=secret, host=host, port=port, advertise=advertise,
                    id=worker_id, data_dir=data_dir, executor=executor,
                    on_shutdown=on_shutdown, wait_for_master=wait_for_master or None)  # fmt: skip
    run.worker(log_level, fields)


# The built-in policies an agent can run (cloudai.scheduling.registry.SCHEDULER_NAMES).
AgentPolicy = Literal["round_robin", "best_fit", "spread", "rts"]
AgentToken = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="CLOUDAI_AGENT_TOKEN", show_default=False,
        help="The master's agent token (kept in the master's DATA_DIR/secrets/agent-token). "
        "Required.",
    ),
]  # fmt: skip
AgentPolicyOption = Annotated[
    AgentPolicy,
    typer.Option(
        "--policy", envvar="CLOUDAI_AGENT_POLICY", help="The placement policy the agent runs."
    ),
]
AgentInterval = Annotated[
    float,
    typer.Option(
        "--interval", envvar="CLOUDAI_AGENT_INTERVAL", min=0.1, help="Seconds between rounds."
    ),
]


def agent(
    master: MasterAddress, token: AgentToken = None, policy: AgentPolicyOption = "best_fit",
    interval: AgentInterval = 1.0, log_level: LogLevelOption = "info",
) -> None:  # fmt: skip
    """Run the example scheduling agent: it places the queued tasks of a master started
    with --scheduler agent (over gRPC, with the agent token)."""
    if not token:
        raise typer.BadParameter(
            "the agent token is required: pass --token or set CLOUDAI_AGENT_TOKEN",
            param_hint="'--token'",
        )
    from cloudai.agent import main  # gRPC and the policies, loaded only now

    status = main.run(master, token, policy=policy, interval_s=interval, log_level=log_level)
    if status:
        raise typer.Exit(status)


def _check_joining(master: str | None, secret: str | None, wait_for_master: bool) -> None:
    if wait_for_master:
        if secret:
            raise typer.BadParameter(
                "give either the join token or --wait-for-master", param_hint="'--join-token'"
            )
        return
    if not secret:
        raise typer.BadParameter(
            "the join token is required: pass --join-token or set CLOUDAI_JOIN_TOKEN "
            "(or --wait-for-master, to be registered by an admin)",
            param_hint="'--join-token'",
        )
    if not master:
        raise typer.BadParameter(
            "the master's address is required: pass --master or set CLOUDAI_MASTER",
            param_hint="'--master'",
        )


def _given(**values: Any) -> dict[str, Any]:
    """Flags that have a value; the settings' own defaults cover the rest."""
    return {key: value for key, value in values.items() if value is not None}


def register(app: typer.Typer) -> None:
    """Add the process commands to the `cloudai` command."""
    panel = "Run CloudAI"
    app.command("up", rich_help_panel=panel)(up)
    app.command("master", rich_help_panel=panel)(master)
    app.command("worker", rich_help_panel=panel)(worker)
    app.command("agent", rich_help_panel=panel)(agent)
