"""docs/getting-started.md's Configuration tables say what the code does: every flag with
its variable and commands, every setting's variable."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from cloudai import entry
from cloudai.config import MasterSettings, WorkerSettings, env_var

DOC = Path(__file__).resolve().parents[3] / "docs" / "getting-started.md"


def _section() -> str:
    text = DOC.read_text()
    return text[text.index("## Configuration") : text.index("## Troubleshooting")]


def _documented_flags() -> set[tuple[str, str, str]]:
    """(command, flag, variable) for each row of the flag table."""
    rows = re.findall(
        r"^\| `(--[a-z-]+)` \| `(CLOUDAI_[A-Z_]+)` \| ([a-z, ]+) \|", _section(), re.M
    )
    return {
        (command.strip(), flag, variable)
        for flag, variable, commands in rows
        for command in commands.split(",")
    }


def _actual_flags() -> set[tuple[str, str, str]]:
    group: Any = typer.main.get_command(entry.build())
    return {
        (command, option.opts[0], option.envvar)
        for command in ("up", "master", "worker")
        for option in group.commands[command].params
        if option.name != "help" and not option.hidden
    }


def test_the_flag_table_is_the_commands_flags() -> None:
    assert _documented_flags() == _actual_flags()


def test_every_setting_variable_is_documented() -> None:
    section = _section()
    for kind in (MasterSettings, WorkerSettings):
        for field in kind.model_fields:
            assert f"`{env_var(kind, field)}`" in section, env_var(kind, field)
