"""`cloudai shell`'s line handling, driven directly with a fake command runner or prompt:
parsing, what is refused, Ctrl-C, exit statuses, the history; and the real click command
behind it (the same one the one-shot CLI runs)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from cloudai.cli import client as client_module
from cloudai.cli import shell, suggest
from cloudai.entry import NOT_IN_SHELL, build


class Runner:
    """A fake `invoke`: records each argv and answers a status (or raises)."""

    def __init__(self, *answers: int | BaseException) -> None:
        self.answers = list(answers)
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str]) -> int:
        self.calls.append(argv)
        answer = self.answers.pop(0) if self.answers else 0
        if isinstance(answer, BaseException):
            raise answer
        return answer


def line(text: str, runner: Runner) -> int:
    return shell.run_line(text, runner, NOT_IN_SHELL)


def test_a_line_is_split_by_shell_rules() -> None:
    runner = Runner()
    assert line("""task img sh -c 'echo "a b"; exit 3' --name 'my task'""", runner) == 0
    assert runner.calls == [["task", "img", "sh", "-c", 'echo "a b"; exit 3', "--name", "my task"]]


def test_blank_lines_and_comments_run_nothing() -> None:
    runner = Runner()
    assert line("", runner) == 0 and line("   ", runner) == 0 and line("# a note", runner) == 0
    assert runner.calls == []


def test_a_pasted_cloudai_prefix_is_dropped() -> None:
    runner = Runner()
    line("cloudai workers --output json", runner)
    assert runner.calls == [["workers", "--output", "json"]]


def test_an_unclosed_quote_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    runner = Runner()
    assert line("task img -c 'echo", runner) == shell.USAGE
    assert runner.calls == []
    assert "cannot read that line: No closing quotation" in capsys.readouterr().err


def test_the_status_is_the_command_s() -> None:
    assert line("status task-x", Runner(3)) == 3


@pytest.mark.parametrize("word", ["up", "master", "worker", "agent", "shell"])
def test_process_commands_are_refused(word: str, capsys: pytest.CaptureFixture[str]) -> None:
    runner = Runner()
    assert line(f"{word} --http-port 9000", runner) == shell.USAGE
    assert runner.calls == []
    err = capsys.readouterr().err
    if word == "shell":
        assert "already in `cloudai shell`" in err
    else:
        assert f"`cloudai {word}` runs a long-lived process" in err
        assert "not inside `cloudai shell`" in err


def test_help() -> None:
    runner = Runner()
    line("help", runner)
    line("help task", runner)
    line("help up", runner)  # reading about a process command is fine
    line("worker --help", runner)
    assert runner.calls == [["--help"], ["task", "--help"], ["up", "--help"], ["worker", "--help"]]


@pytest.mark.parametrize(("text", "code"), [("exit", 0), ("quit", 0), ("exit 3", 3),
                                            ("exit x", 2)])  # fmt: skip
def test_exit_leaves(text: str, code: int) -> None:
    with pytest.raises(shell.Leave) as left:
        line(text, Runner())
    assert left.value.code == code


def test_ctrl_c_stops_the_command_not_the_shell(capsys: pytest.CaptureFixture[str]) -> None:
    runner = Runner(KeyboardInterrupt(), 0)
    assert line("logs -f task-1", runner) == shell.INTERRUPTED
    assert capsys.readouterr().err == "\n"  # the next prompt starts on a line of its own
    assert line("whoami", runner) == 0


def test_a_failing_command_does_not_end_the_shell(capsys: pytest.CaptureFixture[str]) -> None:
    assert line("workers", Runner(RuntimeError("boom"))) == shell.FAILED
    assert "workers: unexpected RuntimeError: boom" in capsys.readouterr().err


def test_login_and_logout_forget_the_cached_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    forgotten: list[bool] = []
    monkeypatch.setattr(suggest.RECENT, "forget", lambda: forgotten.append(True))
    line("workers", Runner())
    line("login --email a@b", Runner())
    line("logout", Runner())
    assert forgotten == [True, True]


def test_lines_without_a_terminal_run_in_turn() -> None:
    runner = Runner(0, 4, 0)
    assert shell.run_lines(["workers\n", "status t\n", "version\n"], runner, NOT_IN_SHELL) == 0
    assert shell.run_lines(["workers\n", "status t\n"], Runner(0, 4), NOT_IN_SHELL) == 4
    assert shell.run_lines(["exit 7\n", "workers\n"], Runner(), NOT_IN_SHELL) == 7
    assert len(runner.calls) == 3


class FakePrompt:
    """Stands for prompt_toolkit's PromptSession: each prompt() is the next answer."""

    def __init__(self, *answers: str | BaseException) -> None:
        self.answers = list(answers)

    def prompt(self, message: str) -> str:
        assert message == shell.PROMPT
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakePrompt]]:
    prompts: list[FakePrompt] = []
    monkeypatch.setattr(shell, "interactive", lambda stdin, stdout: True)
    monkeypatch.setattr(shell, "session", lambda command, excluded: prompts[0])
    yield prompts


def test_the_loop(terminal: list[FakePrompt], monkeypatch: pytest.MonkeyPatch) -> None:
    runner = Runner(shell.INTERRUPTED, 0)
    monkeypatch.setattr(shell, "invoker", lambda command: runner)
    terminal.append(FakePrompt("logs -f t", KeyboardInterrupt(), "up", "whoami", EOFError()))
    assert shell.run(object(), NOT_IN_SHELL) == 0  # Ctrl-D leaves with 0
    assert runner.calls == [["logs", "-f", "t"], ["whoami"]]  # Ctrl-C at the prompt: no line


def test_exit_ends_the_loop_with_its_code(
    terminal: list[FakePrompt], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shell, "invoker", lambda command: Runner())
    terminal.append(FakePrompt("workers", "exit 5", "never"))
    assert shell.run(object(), NOT_IN_SHELL) == 5


def test_a_ctrl_c_between_lines_is_survived(
    terminal: list[FakePrompt], monkeypatch: pytest.MonkeyPatch
) -> None:
    def run_line(text: str, invoke: Any, refused: Any) -> int:
        raise KeyboardInterrupt  # e.g. while the line was being split

    monkeypatch.setattr(shell, "invoker", lambda command: Runner())
    monkeypatch.setattr(shell, "run_line", run_line)
    terminal.append(FakePrompt("workers", EOFError()))
    assert shell.run(object(), NOT_IN_SHELL) == 0


# --- the real command behind the shell -----------------------------------------------


@pytest.fixture(scope="module")
def invoke() -> shell.Invoke:
    return shell.invoker(typer.main.get_command(build()))


def test_the_real_command_runs_a_verb(
    invoke: shell.Invoke, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke(["version"]) == 0
    assert capsys.readouterr().out.strip() == "0.1.0"
    assert invoke(["version"]) == 0  # and again: one command serves every line


def test_the_real_command_reports_usage_errors_and_continues(
    invoke: shell.Invoke, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke(["workrs"]) == 2
    assert "Did you mean 'workers'?" in capsys.readouterr().err
    assert invoke(["list-tasks", "--limit", "0"]) == 2
    assert invoke(["task"]) == 2  # missing IMAGE


def test_the_real_command_keeps_the_documented_exit_statuses(
    invoke: shell.Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("CLOUDAI_CONFIG_DIR", str(tmp_path))
    assert invoke(["whoami"]) == 4  # not logged in
    assert "run `cloudai login` first" in capsys.readouterr().err
    monkeypatch.setenv("CLOUDAI_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CLOUDAI_TOKEN", "t")
    assert invoke(["whoami"]) == 5  # unreachable

    def interrupted(self: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(client_module.Client, "me", interrupted)
    assert invoke(["whoami"]) == shell.INTERRUPTED  # Ctrl-C while it waits on the master


def test_exit_status_of_system_exit(capsys: pytest.CaptureFixture[str]) -> None:
    assert shell.exit_status(None) == 0 and shell.exit_status(3) == 3
    assert shell.exit_status("bad thing") == 1
    assert "bad thing" in capsys.readouterr().err


# --- history and completion ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("login --email a@b --password hunter2", True),
        ("login --password=hunter2", True),
        ("worker --token x", True),
        ("agent --join-token=x", True),
        ("workers", False),
        ("login --email a@b", False),
        ("task img -c 'echo --password'", False),
    ],
)
def test_lines_with_secrets(text: str, secret: bool) -> None:
    assert shell.has_secret(text) is secret


def test_history_is_private_and_keeps_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDAI_CONFIG_DIR", str(tmp_path / "config"))
    history = shell.history()
    history.append_string("workers")
    history.append_string("login --email a@b --password hunter2")
    path = tmp_path / "config" / shell.HISTORY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert "workers" in text and "hunter2" not in text
    assert list(shell.history().load_history_strings()) == ["workers"]


def test_no_history_file_is_no_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("CLOUDAI_CONFIG_DIR", str(blocker / "config"))
    history = shell.history()
    history.append_string("workers")
    assert list(history.get_strings()) == ["workers"]


def test_the_completer_replaces_the_word_being_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suggest.RECENT, "tasks", lambda: [("task-a 1", "odd id")])
    completer = shell.LineCompleter(typer.main.get_command(build()), NOT_IN_SHELL)

    def completions(text: str) -> list[tuple[str, int]]:
        found = completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
        return [(c.text, c.start_position) for c in found]

    assert completions("wor") == [("workers", -3)]
    assert completions("logs -f ") == [("'task-a 1'", 0)]  # quoted to stay one word
    assert completions("logs -f tas") == [("'task-a 1'", -3)]
    assert completions("list-tasks --output j") == [("json", -1)]


def test_prompt_toolkit_is_loaded_only_by_the_shell(tmp_path: Path) -> None:
    env = {**os.environ, "CLOUDAI_CONFIG_DIR": str(tmp_path)}
    code = (
        "import sys, runpy; sys.argv = ['cloudai', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('cloudai', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('prompt_toolkit' in sys.modules)"
    )
    for args in (["--help"], ["list-tasks"], ["completion", "bash"]):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
            timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.stdout.strip().endswith("False"), (args, done.stdout, done.stderr)
    done = subprocess.run([sys.executable, "-c", code, "shell"], env=env, input="version\n",
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.stdout.strip().splitlines()[-2:] == ["0.1.0", "True"], done.stderr
