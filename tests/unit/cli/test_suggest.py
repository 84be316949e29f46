"""Typo suggestions (user verbs only, never a process command), the ids offered for
completion (cached briefly, silent when the master cannot answer), and what completes a
half-typed line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from cloudai.cli import contexts, suggest
from cloudai.cli.client import ApiError
from cloudai.entry import NOT_IN_SHELL, PROCESS_COMMANDS, build


@pytest.fixture(scope="module")
def root() -> Any:
    return typer.main.get_command(build())


def test_a_typo_names_the_nearest_user_verbs() -> None:
    verbs = ["workers", "stats", "status", "task", "logs", "whoami"]
    assert suggest.unknown_command("workrs", verbs) == (
        "No such command 'workrs'. Did you mean 'workers'?"
    )
    assert suggest.close_matches("statsu", verbs) == ["stats", "status"]
    assert suggest.unknown_command("statsu", verbs) == (
        "No such command 'statsu'. Did you mean 'stats' or 'status'?"
    )
    assert suggest.unknown_command("xyzzy", verbs) == "No such command 'xyzzy'."


def test_process_commands_are_never_suggested(root: Any) -> None:
    verbs = root.user_verbs()
    assert "workers" in verbs and "status" in verbs and "shell" in verbs
    assert not PROCESS_COMMANDS & set(verbs)
    result = CliRunner().invoke(build(), ["workr"], prog_name="cloudai")
    assert result.exit_code == 2
    assert "Did you mean 'workers'?" in result.output
    assert "'worker'" not in result.output
    assert "Did you mean" not in CliRunner().invoke(build(), ["mastr"]).output


def test_the_process_commands_are_those_launch_registers(root: Any) -> None:
    panel = {n for n, c in root.commands.items() if c.rich_help_panel == "Run CloudAI"}
    assert panel == PROCESS_COMMANDS
    assert {"shell"} | PROCESS_COMMANDS == NOT_IN_SHELL


@pytest.mark.parametrize(
    ("typo", "meant"), [("workrs", ["'workers'"]), ("statsu", ["'stats'", "'status'"])]
)
def test_a_typo_is_a_usage_error_with_exit_2(typo: str, meant: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cloudai", typo], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert f"No such command '{typo}'. Did you mean" in result.stderr
    assert all(m in result.stderr for m in meant)
    assert "'worker'" not in result.stderr and result.stdout == ""


class _FakeClient:
    calls = 0
    fail: Exception | None = None

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def __enter__(self) -> _FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def list_tasks(self, status: str | None = None, limit: int = 100) -> dict[str, Any]:
        type(self).calls += 1
        if self.fail is not None:
            raise self.fail
        return {"tasks": [{"task_id": "task-aa01", "status": "running", "name": "train"},
                          {"task_id": "task-bb02", "status": "queued", "name": None}]}  # fmt: skip

    def workers(self) -> dict[str, Any]:
        return {"workers": [{"worker_id": "node-1", "status": "active"}]}


@pytest.fixture
def fake_client() -> type[_FakeClient]:
    _FakeClient.calls, _FakeClient.fail = 0, None
    return _FakeClient


def test_ids_are_cached_briefly(fake_client: type[_FakeClient]) -> None:
    now = [100.0]
    ids = suggest.RecentIds(ttl_s=5, clock=lambda: now[0], client=fake_client)  # type: ignore[arg-type]
    assert ids.tasks() == [("task-aa01", "running train"), ("task-bb02", "queued")]
    assert ids.workers() == [("node-1", "active")]
    now[0] += 4
    ids.tasks()
    assert fake_client.calls == 1
    now[0] += 2
    ids.tasks()
    assert fake_client.calls == 2
    ids.forget()
    ids.tasks()
    assert fake_client.calls == 3


@pytest.mark.parametrize(
    "error",
    [
        ApiError(0, "unreachable", "cannot reach"),
        ApiError(401, "unauthorized", "no"),
        OSError("disk"),
        KeyError("tasks"),
    ],
)
def test_a_master_that_cannot_answer_yields_no_ids_and_is_not_asked_per_key(
    fake_client: type[_FakeClient], error: Exception
) -> None:
    fake_client.fail = error
    ids = suggest.RecentIds(clock=lambda: 0.0, client=fake_client)  # type: ignore[arg-type]
    assert ids.tasks() == [] and ids.tasks() == []
    assert fake_client.calls == 1


def test_without_a_login_no_ids_and_no_error(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDAI_CONFIG_DIR", str(tmp_path))
    assert suggest.RecentIds().tasks() == []


@pytest.mark.parametrize(
    ("text", "words", "incomplete"),
    [
        ("", [], ""),
        ("wor", [], "wor"),
        ("logs ", ["logs"], ""),
        ("logs -f ta", ["logs", "-f"], "ta"),
        ('task img sh -c "echo a', ["task", "img", "sh", "-c"], "echo a"),
        ("download t1 my\\ fi", ["download", "t1"], "my fi"),
    ],
)
def test_split_line(text: str, words: list[str], incomplete: str) -> None:
    assert suggest.split_line(text) == (words, incomplete)


@pytest.fixture
def recent(monkeypatch: pytest.MonkeyPatch, fake_client: type[_FakeClient]) -> None:
    ids = suggest.RecentIds(client=fake_client)  # type: ignore[arg-type]
    monkeypatch.setattr(suggest, "RECENT", ids)


def _values(root: Any, text: str) -> list[str]:
    words, incomplete = suggest.split_line(text)
    return [value for value, _ in suggest.complete(root, words, incomplete, NOT_IN_SHELL)]


@pytest.mark.usefixtures("recent")
def test_completing_a_line(root: Any) -> None:
    assert _values(root, "wor") == ["workers"]  # `worker` is a process command
    assert "up" not in _values(root, "") and "exit" in _values(root, "")
    assert _values(root, "sta") == ["status", "stats"]
    assert _values(root, "cloudai who") == ["whoami"]
    assert _values(root, "help st") == ["status", "stats"]
    assert _values(root, "list-tasks --o") == ["--output"]
    assert _values(root, "list-tasks --output ") == ["table", "json"]
    assert _values(root, "list-tasks --output=j") == ["--output=json"]
    assert "--json" not in _values(root, "list-tasks --")  # hidden
    assert "--watch" not in _values(root, "status --watch --")  # given once already
    assert _values(root, "task img -e A=1 --e") == ["--env"]  # repeatable
    assert _values(root, "logs ") == ["task-aa01", "task-bb02"]
    assert _values(root, "logs -f task-b") == ["task-bb02"]
    assert _values(root, "status ") == ["task-aa01", "task-bb02"]
    assert _values(root, "download task-aa01 ") == []  # PATH: no ids
    assert _values(root, "stats ") == ["node-1"]
    assert _values(root, "dispatch ") == ["node-1"]
    assert _values(root, "task img --worker ") == ["node-1"]
    assert _values(root, "task img --cpu ") == []
    assert _values(root, "task img sh -") == []  # the task's own command: its flags
    assert _values(root, "task img -- --c") == []
    assert _values(root, "nosuch ") == []


@pytest.mark.usefixtures("recent")
def test_completion_descriptions(root: Any) -> None:
    pairs = dict(suggest.complete(root, ["logs"], "", NOT_IN_SHELL))
    assert pairs["task-aa01"] == "running train"
    assert dict(suggest.complete(root, [], "wor"))["workers"].startswith("The worker table")


@pytest.mark.usefixtures("recent")
def test_completing_groups_and_the_global_context_option(
    root: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLOUDAI_CONFIG_DIR", str(tmp_path))
    contexts.save_credentials(contexts.Credentials("http://a:1", "t", "prod"))
    contexts.save_credentials(contexts.Credentials("http://b:1", "t", "staging"))
    assert _values(root, "context ") == ["list", "use", "remove"]
    assert _values(root, "context use ") == ["prod", "staging"]
    assert _values(root, "context use p") == ["prod"]
    assert _values(root, "tokens ") == ["create", "list", "revoke"]
    assert _values(root, "tokens create ci --e") == ["--expires"]
    assert "--context" in _values(root, "--")
    assert _values(root, "--context prod logs ") == ["task-aa01", "task-bb02"]
    assert _values(root, "--context=prod sta") == ["status", "stats"]
    assert _values(root, "--context ") == ["prod", "staging"]
    assert _values(root, "--context s") == ["staging"]
