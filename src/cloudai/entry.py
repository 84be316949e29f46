"""The `cloudai` command: the HTTP verbs of `cloudai.cli` and the process commands of
`cloudai.launch.commands`, assembled here so neither package needs the other. Only light
modules load at start-up; a process command loads the server side when it runs."""

from __future__ import annotations

from typing import Annotated

import typer

from cloudai import __version__
from cloudai.cli import render
from cloudai.cli import tasks as task_commands
from cloudai.launch import commands as launch_commands


def _print_version(value: bool) -> None:
    if value:
        render.out(__version__)
        raise typer.Exit()


def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """CloudAI: run containerised tasks on a cluster of workers."""


def version() -> None:
    """Print the version."""
    render.out(__version__)


def build() -> typer.Typer:
    app = typer.Typer(
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,  # never print tokens from local variables
    )
    app.callback()(_main)
    task_commands.register(app)
    launch_commands.register(app)
    app.command("version")(version)
    return app


def run() -> None:
    build()()
