"""The `cloudai` command: the HTTP verbs of `cloudai.cli` and the process commands of
`cloudai.launch.commands`, assembled here so neither package needs the other. Only light
modules load at start-up; a process command loads the server side when it runs, and
`cloudai shell` loads prompt_toolkit when it runs.

`cloudai` alone starts the shell when stdin and stdout are a terminal, and prints the
help (exit 0) when they are not."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from enum import StrEnum
from typing import Annotated

import typer

from cloudai import __version__
from cloudai.cli import admin as admin_commands
from cloudai.cli import contexts, render, suggest
from cloudai.cli import tasks as task_commands
from cloudai.launch import commands as launch_commands

PROG = "cloudai"  # also under `python -m cloudai`: the help, and completion's _CLOUDAI_COMPLETE
COMPLETE_VAR = "_CLOUDAI_COMPLETE"
# The commands that run a process rather than ask the master (launch.commands.register):
# never suggested for a typo, refused inside the shell (with `shell` itself).
PROCESS_COMMANDS = frozenset({"up", "master", "worker", "agent"})
NOT_IN_SHELL = PROCESS_COMMANDS | {"shell"}


class CloudaiGroup(suggest.SuggestingGroup):
    unsuggested = PROCESS_COMMANDS


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
    context: Annotated[
        str | None,
        typer.Option(
            "--context", envvar="CLOUDAI_CONTEXT", show_default=False, metavar="NAME",
            autocompletion=suggest.complete_context_name,
            help="Use this stored login (see `cloudai context list`) instead of the current.",
        ),
    ] = None,
) -> None:  # fmt: skip
    """CloudAI: run containerised tasks on a cluster of workers."""
    if context is not None:  # absent: as chosen before (the shell keeps its own)
        contexts.select(context)


def version() -> None:
    """Print the version."""
    render.out(__version__)


def shell(ctx: typer.Context) -> None:
    """An interactive prompt for these commands (also `cloudai` alone in a terminal).

    TAB completes commands, flags and ids; history is kept; Ctrl-C stops only the command
    running; Ctrl-D or `exit` leaves."""
    from cloudai.cli import shell as interactive  # prompt_toolkit, loaded only now

    raise typer.Exit(interactive.run(ctx.find_root().command, NOT_IN_SHELL))


class CompletionShell(StrEnum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"


def completion(
    ctx: typer.Context,
    shell_name: Annotated[CompletionShell, typer.Argument(metavar="SHELL", show_default=False)],
) -> None:
    """Print the completion script for bash, zsh or fish.

    E.g. add `eval "$(cloudai completion bash)"` to ~/.bashrc. Task and worker ids are
    completed from the master."""
    from typer.completion import shell_complete  # what `--show-completion` prints

    with contextlib.redirect_stdout(io.StringIO()) as script:
        status = shell_complete(
            ctx.find_root().command, {}, PROG, COMPLETE_VAR, f"source_{shell_name.value}"
        )
    if status:
        raise typer.Exit(status)
    render.raw(script.getvalue().strip() + "\n")  # zsh: `#compdef` must be the first line


def build() -> typer.Typer:
    app = typer.Typer(
        cls=CloudaiGroup,
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,  # never print tokens from local variables
    )
    app.callback()(_main)
    task_commands.register(app)
    admin_commands.register(app)
    launch_commands.register(app)
    app.command("shell")(shell)
    app.command("completion")(completion)
    app.command("version")(version)
    return app


def _accept_click_instructions() -> None:
    """Click's own spelling of the completion instructions (`bash_source`, as in click's
    docs) means typer's (`source_bash`)."""
    shell_name, _, mode = os.environ.get(COMPLETE_VAR, "").partition("_")
    if (mode == "source" and shell_name in set(CompletionShell)) or (
        mode == "complete" and shell_name == "bash"
    ):
        os.environ[COMPLETE_VAR] = f"{mode}_{shell_name}"


def _terminal() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def run() -> None:
    _accept_click_instructions()
    args = sys.argv[1:] or (["shell"] if _terminal() else ["--help"])
    build()(args=args, prog_name=PROG)
