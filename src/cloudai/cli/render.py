"""Everything the CLI prints goes through here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from cloudai.master.app import MasterApp

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


def out(message: str) -> None:
    _out.print(message)


def info(message: str) -> None:
    _err.print(message)


def warn(message: str) -> None:
    _err.print(f"[bold yellow]warning:[/] {message}")


def error(message: str) -> None:
    _err.print(f"[bold red]error:[/] {message}")


def up_banner(master: MasterApp, worker_ids: list[str], executor: str) -> None:
    s = master.settings
    sandbox = "docker (sandboxed)" if executor == "docker" else f"{executor} (NOT sandboxed)"
    _out.print(f"CloudAI is up: http://{s.http_host}:{master.http_port}")
    _admin_lines(master)
    _out.print(f"  gRPC:           {s.grpc_host}:{master.grpc_port}")
    _out.print(f"  workers:        {', '.join(worker_ids)} via {sandbox}")
    _out.print(f"  data:           {s.data_dir}")
    _out.print("Press Ctrl-C to stop.", soft_wrap=True)
    _out.file.flush()  # scripts and tests read the banner through a pipe


def _admin_lines(master: MasterApp) -> None:
    _out.print(f"  admin email:    {master.settings.admin_email}")
    if master.admin_password_works:
        _out.print(f"  admin password: {master.secrets.admin_password}")
    else:
        _out.print(
            "  admin password: unchanged (the account was created earlier with another "
            "password; the configured one was not applied)",
            soft_wrap=True,
        )


def master_banner(master: MasterApp) -> None:
    s = master.settings
    _out.print(f"CloudAI master: http://{s.http_host}:{master.http_port}")
    _out.print(f"  gRPC:           {s.grpc_host}:{master.grpc_port}")
    _admin_lines(master)
    _out.print(f"  join token:     {master.secrets.join_token}")
    _out.print(
        f"  add a worker:   cloudai worker --master {s.grpc_host}:{master.grpc_port} "
        f"--token {master.secrets.join_token}",
        soft_wrap=True,  # one line, so the token copies in one piece
    )
    _out.file.flush()
