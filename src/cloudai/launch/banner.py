"""What `cloudai up`, `master` and `worker` print once they are ready.

Secrets (the admin password, the join token) are shown only when a person watches stdout.
Under systemd, a pipe or a file, stdout ends up in a journal or a log that others read,
so the banner names the file that holds each secret (mode 0600) instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cloudai.config import ADMIN_PASSWORD_FILE, JOIN_TOKEN_FILE, MasterSettings, env_var

if TYPE_CHECKING:
    from cloudai.master.app import MasterApp
    from cloudai.worker.app import WorkerApp


def up_lines(master: MasterApp, worker_ids: list[str], executor: str, terminal: bool) -> list[str]:
    s = master.settings
    sandbox = "docker (sandboxed)" if executor == "docker" else f"{executor} (NOT sandboxed)"
    return [
        f"CloudAI is up: http://{s.http_host}:{master.http_port}",
        *_admin_lines(master, terminal),
        f"  gRPC:           {s.grpc_host}:{master.grpc_port}",
        f"  workers:        {', '.join(worker_ids)} via {sandbox}",
        f"  data:           {s.data_dir}",
        "Press Ctrl-C to stop.",
    ]


def master_lines(master: MasterApp, terminal: bool) -> list[str]:
    s = master.settings
    address = f"{s.grpc_host}:{master.grpc_port}"
    if terminal:
        token = master.secrets.join_token
        join = [
            f"  join token:     {token}",
            f"  add a worker:   cloudai worker --master {address} --join-token {token}",
        ]
    else:
        join = [
            f"  join token:     {_where(s, 'join_token', JOIN_TOKEN_FILE, '--join-token or ')}",
            f"  add a worker:   CLOUDAI_JOIN_TOKEN=<join token> cloudai worker --master {address}",
        ]
    return [
        f"CloudAI master: http://{s.http_host}:{master.http_port}",
        f"  gRPC:           {address}",
        *_admin_lines(master, terminal),
        *join,
    ]


def worker_line(worker: WorkerApp) -> str:
    s = worker.settings
    return (
        f"worker {worker.worker_id} listening on {s.host}:{worker.port}, "
        f"joining the master at {s.master} (executor: {s.executor})"
    )


def _admin_lines(master: MasterApp, terminal: bool) -> list[str]:
    s = master.settings
    if not master.admin_password_works:
        password = (
            "unchanged (the account was created earlier with another password; "
            "the configured one was not applied)"
        )
    elif terminal:
        password = master.secrets.admin_password
    else:
        password = _where(s, "admin_password", ADMIN_PASSWORD_FILE)
    return [f"  admin email:    {s.admin_email}", f"  admin password: {password}"]


def _where(settings: MasterSettings, field: str, file: str, flag: str = "") -> str:
    """Where a secret that is not printed can be found."""
    if getattr(settings, field) is not None:
        return f"as set by {flag}{env_var(MasterSettings, field)} (shown only on a terminal)"
    return f"in {settings.secret_file(file)} (shown only on a terminal)"
