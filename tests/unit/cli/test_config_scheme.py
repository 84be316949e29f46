"""One configuration scheme: each flag of `up`, `master` and `worker` reads exactly one
CLOUDAI_ variable, shown in its help, and the settings read that same variable; bad values
are usage errors (exit 2), never tracebacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import pytest
import typer
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner, Result

from cloudai import __version__, entry
from cloudai.config import (
    EXECUTORS,
    SCHEDULERS,
    MasterSettings,
    WorkerSettings,
    env_var,
)
from cloudai.launch import commands, run, serve, serve_worker

# Which settings field each flag sets (`--host` sets both listen addresses of the master).
# Flags that are not settings: `--workers`, `up --executor`, `--log-level`, hidden aliases.
MASTER_FLAGS = {
    "data_dir": ("data_dir",), "host": ("http_host", "grpc_host"), "http_port": ("http_port",),
    "grpc_port": ("grpc_port",), "scheduler": ("scheduler",), "db": ("db",),
    "join_token": ("join_token",),
}  # fmt: skip
WORKER_FLAGS = {
    "master": ("master",), "join_token": ("token",), "host": ("host",), "port": ("port",),
    "advertise": ("advertise",), "worker_id": ("id",), "data_dir": ("data_dir",),
    "executor": ("executor",), "wait_for_master": ("wait_for_master",),
    "on_shutdown": ("on_shutdown",),
}  # fmt: skip
NOT_SETTINGS = {"workers", "executor", "log_level"}
SETTINGS: dict[str, tuple[type[MasterSettings] | type[WorkerSettings], dict[str, Any]]] = {
    "up": (MasterSettings, MASTER_FLAGS),
    "master": (MasterSettings, MASTER_FLAGS),
    "worker": (WorkerSettings, WORKER_FLAGS),
}


@dataclass
class Launched:
    """What a command would have started (serve's runners are replaced)."""

    settings: Any = None
    options: serve.UpOptions | None = None
    log_levels: list[str] = field(default_factory=list)


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> Launched:
    record = Launched()

    async def run_up(settings: MasterSettings, options: serve.UpOptions) -> None:
        record.settings, record.options = settings, options

    async def run_one(settings: Any) -> None:
        record.settings = settings

    monkeypatch.setattr(serve, "run_up", run_up)
    monkeypatch.setattr(serve, "run_master", run_one)
    monkeypatch.setattr(serve_worker, "run_worker", run_one)
    monkeypatch.setattr(run, "configure_logging", record.log_levels.append)
    return record


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(entry.build(), list(args), env=env)


def options(command: str) -> list[Any]:
    group: Any = typer.main.get_command(entry.build())
    return [p for p in group.commands[command].params if p.name != "help"]


@pytest.mark.parametrize("command", ["up", "master", "worker"])
def test_every_flag_shows_one_variable_and_the_settings_read_it(command: str) -> None:
    kind, flags = SETTINGS[command]
    seen: set[str] = set()
    for option in options(command):
        if option.hidden:
            assert option.envvar is None, f"{option.name}: an alias reads no variable"
            continue
        assert isinstance(option.envvar, str) and option.envvar.startswith("CLOUDAI_")
        assert option.show_envvar, option.name
        assert option.envvar not in seen, f"{option.envvar} twice in {command}"
        seen.add(option.envvar)
        assert option.name in flags or option.name in NOT_SETTINGS, f"unmapped {option.name}"
        fields = flags.get(option.name, ())
        if len(fields) == 1:
            assert env_var(kind, fields[0]) == option.envvar


@pytest.mark.parametrize("command", ["up", "master", "worker"])
def test_flag_defaults_are_the_settings_defaults(command: str) -> None:
    kind, flags = SETTINGS[command]
    for option in options(command):
        for name in flags.get(option.name, ()):
            if option.default is not None:
                assert option.default == kind.model_fields[name].default, name


def test_choices_are_the_settings_choices() -> None:
    assert get_args(commands.Scheduler) == SCHEDULERS
    assert set(get_args(commands.Executor)) < set(EXECUTORS)  # `fake` is for tests only


WORKER_BASE = {"CLOUDAI_MASTER": "m.example:1", "CLOUDAI_JOIN_TOKEN": "join-secret"}
VARIABLE_CASES = [
    ("up", {"CLOUDAI_DATA_DIR": "/srv/c"}, "settings.data_dir", Path("/srv/c")),
    ("up", {"CLOUDAI_HOST": "0.0.0.0"}, "settings.http_host", "0.0.0.0"),
    ("up", {"CLOUDAI_HOST": "0.0.0.0"}, "settings.grpc_host", "0.0.0.0"),
    ("up", {"CLOUDAI_HTTP_PORT": "9090"}, "settings.http_port", 9090),
    ("up", {"CLOUDAI_GRPC_PORT": "9091"}, "settings.grpc_port", 9091),
    ("up", {"CLOUDAI_SCHEDULER": "rts"}, "settings.scheduler", "rts"),
    ("up", {"CLOUDAI_WORKERS": "3"}, "options.workers", 3),
    ("up", {"CLOUDAI_EXECUTOR": "process"}, "options.executor", "process"),
    ("up", {"CLOUDAI_LOG_LEVEL": "ERROR"}, "log_levels", ["error"]),
    ("master", {"CLOUDAI_DB": "sqlite+aiosqlite:///x.db"}, "settings.db", "sqlite+aiosqlite:///x.db"),
    ("master", {"CLOUDAI_JOIN_TOKEN": "jt"}, "settings.join_token", "jt"),
    ("master", {"CLOUDAI_SCHEDULER": "agent"}, "settings.scheduler", "agent"),
    ("master", {"CLOUDAI_HTTP_PORT": "0"}, "settings.http_port", 0),
    ("master", {"CLOUDAI_AGENT_TOKEN": "at"}, "settings.agent_token", "at"),
    ("master", {"CLOUDAI_FAIR_SHARE_HALF_LIFE_S": "60"}, "settings.fair_share_half_life_s", 60),
    ("master", {"CLOUDAI_AGENT_TIMEOUT_S": "0.5"}, "settings.agent_timeout_s", 0.5),
    ("worker", {}, "settings.master", "m.example:1"),
    ("worker", {}, "settings.token", "join-secret"),
    ("worker", {"CLOUDAI_WORKER_HOST": "0.0.0.0"}, "settings.host", "0.0.0.0"),
    ("worker", {"CLOUDAI_WORKER_PORT": "7000"}, "settings.port", 7000),
    ("worker", {"CLOUDAI_WORKER_ADVERTISE": "10.0.0.9"}, "settings.advertise", "10.0.0.9"),
    ("worker", {"CLOUDAI_WORKER_ID": "w9"}, "settings.id", "w9"),
    ("worker", {"CLOUDAI_DATA_DIR": "/srv/w"}, "settings.data_dir", Path("/srv/w")),
    ("worker", {"CLOUDAI_EXECUTOR": "process"}, "settings.executor", "process"),
    ("worker", {"CLOUDAI_LOG_LEVEL": "debug"}, "log_levels", ["debug"]),
    ("worker", {"CLOUDAI_WORKER_STOP_GRACE_S": "3"}, "settings.stop_grace_s", 3),
]  # fmt: skip


def _get(record: Launched, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = getattr(value, part)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@pytest.mark.parametrize(("command", "env", "path", "expected"), VARIABLE_CASES)
def test_each_variable_works(
    launched: Launched, command: str, env: dict[str, str], path: str, expected: Any
) -> None:
    base = WORKER_BASE if command == "worker" else {}
    result = invoke(command, env={**base, **env})
    assert result.exit_code == 0, result.output
    assert _get(launched, path) == expected


def test_a_flag_beats_its_variable(launched: Launched) -> None:
    result = invoke("master", "--http-port", "10", env={"CLOUDAI_HTTP_PORT": "9"})
    assert result.exit_code == 0, result.output
    assert launched.settings.http_port == 10


def test_names_of_other_meanings_or_the_past_do_nothing(launched: Launched) -> None:
    env = {
        **WORKER_BASE, "CLOUDAI_WORKER_MASTER": "old:1", "CLOUDAI_WORKER_TOKEN": "old",
        "CLOUDAI_TOKEN": "api-token", "CLOUDAI_PORT": "7", "CLOUDAI_WORKER_EXECUTOR": "process",
        "CLOUDAI_HOST": "0.0.0.0",
    }  # fmt: skip
    result = invoke("worker", env=env)
    assert result.exit_code == 0, result.output
    s = launched.settings
    assert (s.master, s.token.get_secret_value()) == ("m.example:1", "join-secret")
    assert (s.port, s.executor, s.host) == (50052, "docker", "127.0.0.1")


def test_the_api_token_is_not_a_join_token(launched: Launched) -> None:
    result = invoke("worker", "--master", "m:1", env={"CLOUDAI_TOKEN": "api-token"})
    assert result.exit_code == 2
    assert "--join-token" in result.output and "CLOUDAI_JOIN_TOKEN" in result.output
    assert launched.settings is None


def test_the_old_token_flag_still_works_hidden(launched: Launched) -> None:
    result = invoke("worker", "--master", "m:1", "--token", "t0")
    assert result.exit_code == 0, result.output
    assert launched.settings.token.get_secret_value() == "t0"
    assert "--token " not in invoke("worker", "--help").output


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["up", "--log-level", "loud"], {}),
        (["up"], {"CLOUDAI_LOG_LEVEL": "verbose"}),
        (["up", "--executor", "fake"], {}),
        (["up", "--http-port", "70000"], {}),
        (["master", "--scheduler", "fifo"], {}),
        (["master"], {"CLOUDAI_SCHEDULER": "fifo"}),
        (["worker", "--executor", "vm"], WORKER_BASE),
        (["worker"], {**WORKER_BASE, "CLOUDAI_EXECUTOR": "vm"}),
        (["worker", "--join-token", "x"], {}),  # no --master
    ],
)
def test_a_bad_choice_is_a_usage_error(
    launched: Launched, args: list[str], env: dict[str, str]
) -> None:
    result = invoke(*args, env=env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert launched.settings is None and launched.log_levels == []


@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        ("master", {"CLOUDAI_HEARTBEAT_LOST_S": "soon"},
         "invalid setting CLOUDAI_HEARTBEAT_LOST_S='soon': Input should be a valid number"),
        ("up", {"CLOUDAI_AGENT_TIMEOUT_S": "0"},
         "invalid setting CLOUDAI_AGENT_TIMEOUT_S='0': Input should be greater than 0"),
        ("worker", {**WORKER_BASE, "CLOUDAI_WORKER_CPU": "-1"},
         "invalid setting CLOUDAI_WORKER_CPU='-1': Input should be greater than 0"),
    ],
)  # fmt: skip
def test_a_bad_variable_without_a_flag_is_a_usage_error_naming_it(
    launched: Launched, command: str, env: dict[str, str], message: str
) -> None:
    result = invoke(command, env=env)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert launched.settings is None


def test_master_settings_for_the_scheduler() -> None:
    s = MasterSettings()
    assert (s.scheduler, s.fair_share_half_life_s, s.agent_timeout_s) == ("round_robin", 3600, 5)
    assert s.agent_token is None
    for bad in ({"scheduler": "fifo"}, {"fair_share_half_life_s": 0}, {"agent_timeout_s": -1}):
        with pytest.raises(ValidationError):
            MasterSettings(**bad)


def test_version() -> None:
    for args in (["--version"], ["version"]):
        result = invoke(*args)
        assert (result.exit_code, result.stdout) == (0, f"{__version__}\n")
