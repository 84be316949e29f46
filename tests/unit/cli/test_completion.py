"""Completion for bash, zsh and fish: the scripts (`cloudai completion SHELL`, typer's
`--show-completion`) and the protocol they speak (`_CLOUDAI_COMPLETE`), ids included;
and what `cloudai` alone does without a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.cli.fake_master import FakeMaster, running


def cloudai(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloudai", *args], env={**os.environ, **env},
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_the_bash_script() -> None:
    done = cloudai("completion", "bash")
    assert done.returncode == 0, done.stderr
    script = done.stdout
    assert script.startswith("_cloudai_completion() {")
    assert "_CLOUDAI_COMPLETE=complete_bash" in script
    assert script.rstrip().endswith("complete -o default -F _cloudai_completion cloudai")


def test_the_zsh_and_fish_scripts() -> None:
    zsh = cloudai("completion", "zsh")
    assert zsh.returncode == 0
    assert zsh.stdout.splitlines()[0] == "#compdef cloudai"  # compinit reads the first line
    assert "_CLOUDAI_COMPLETE=complete_zsh" in zsh.stdout
    fish = cloudai("completion", "fish")
    assert fish.stdout.startswith("complete --command cloudai")
    assert "_CLOUDAI_COMPLETE=complete_fish" in fish.stdout
    assert cloudai("completion", "tcsh").returncode == 2


def test_show_completion_prints_the_same_script() -> None:
    # Without detection typer takes the shell as the option's value.
    shown = cloudai("--show-completion", "bash", _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == cloudai("completion", "bash").stdout.strip()


def test_the_script_is_the_same_under_python_m() -> None:
    # `python -m cloudai` is still `cloudai`: one variable, one function name.
    assert "_PYTHON" not in cloudai("completion", "bash").stdout


def complete_bash(line: str, **env: str) -> list[str]:
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    done = cloudai(_CLOUDAI_COMPLETE="complete_bash", COMP_WORDS=line, COMP_CWORD=str(cword), **env)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completes_commands() -> None:
    assert complete_bash("cloudai wor") == ["workers", "worker"]
    assert complete_bash("cloudai list-tasks --out") == ["--output"]
    assert complete_bash("cloudai list-tasks --output ") == ["table", "json"]


def test_click_s_spelling_of_the_instructions_works_too() -> None:
    done = cloudai(_CLOUDAI_COMPLETE="bash_complete", COMP_WORDS="cloudai wor", COMP_CWORD="1")
    assert done.stdout.split() == ["workers", "worker"]
    source = cloudai(_CLOUDAI_COMPLETE="bash_source")
    assert "_CLOUDAI_COMPLETE=complete_bash" in source.stdout


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    with running() as fake:
        fake.answer("GET", "/api/tasks", {"tasks": [
            {"task_id": "task-0a1b", "status": "running", "name": "n"},
            {"task_id": "task-ff00", "status": "queued"},
        ]})  # fmt: skip
        fake.answer(
            "GET", "/api/workers", {"workers": [{"worker_id": "node-7", "status": "active"}]}
        )
        yield fake


def test_bash_completes_ids_from_the_master(master: FakeMaster) -> None:
    env = {"CLOUDAI_URL": master.url, "CLOUDAI_TOKEN": "tok"}
    assert complete_bash("cloudai logs ", **env) == ["task-0a1b", "task-ff00"]
    assert complete_bash("cloudai cancel task-f", **env) == ["task-ff00"]
    assert complete_bash("cloudai stats ", **env) == ["node-7"]
    assert complete_bash("cloudai task img --worker n", **env) == ["node-7"]
    assert {r.authorization for r in master.requests} == {"Bearer tok"}


def test_no_master_no_ids_no_error(tmp_path: Path) -> None:
    assert complete_bash("cloudai logs ", CLOUDAI_CONFIG_DIR=str(tmp_path)) == []
    unreachable = {"CLOUDAI_URL": "http://127.0.0.1:9", "CLOUDAI_TOKEN": "t"}
    assert complete_bash("cloudai logs ", **unreachable) == []


def test_cloudai_alone_without_a_terminal_prints_the_help_and_succeeds() -> None:
    done = cloudai()
    assert done.returncode == 0, done.stderr
    assert "Usage: cloudai [OPTIONS] COMMAND" in done.stdout
    assert "shell" in done.stdout and "completion" in done.stdout


def test_the_shell_without_a_terminal_runs_stdin(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cloudai", "shell"], input="# a script\nversion\nup\nwhoami\n",
        env={**os.environ, "CLOUDAI_CONFIG_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.strip() == "0.1.0"
    assert "runs a long-lived process" in done.stderr
    assert "not logged in" in done.stderr
    assert done.returncode == 4  # the last line's status
