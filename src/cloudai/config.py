"""Typed configuration, one class per process kind, built once in each composition root
(`cloudai.launch`) and passed down.

Every setting reads exactly one environment variable (`env_var` names it). A setting with a
command-line flag reads the variable that flag's `--help` shows, so the flag and the
variable can never disagree; flags override variables. The master's settings are
`CLOUDAI_<FIELD>`; the worker's own are `CLOUDAI_WORKER_<FIELD>`, and the four a worker
shares with the other commands keep their common names: `CLOUDAI_MASTER`,
`CLOUDAI_JOIN_TOKEN`, `CLOUDAI_DATA_DIR`, `CLOUDAI_EXECUTOR`."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloudai.domain.images import RegistryPolicy

SchedulerName = Literal["round_robin", "best_fit", "spread", "rts", "agent"]
ExecutorKind = Literal["docker", "process", "fake"]
Registration = Literal["open", "admin-only"]
PullPolicy = Literal["if-not-present", "always", "never"]
# What a stopping worker does with running tasks: stop them (interrupted, requeued),
# drain (finish them, take none new), or leave them running for its next start.
OnShutdown = Literal["stop", "drain", "leave"]
SCHEDULERS: tuple[str, ...] = get_args(SchedulerName)
EXECUTORS: tuple[str, ...] = get_args(ExecutorKind)

_ORIGIN = re.compile(r"https?://[^/\s*]+")  # no path, no wildcard
ADMIN_PASSWORD_FILE = "admin-password"
JOIN_TOKEN_FILE = "join-token"


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float | None:
    """Seconds in `30d`, `12h`, `90m`, `45s` or `3600`; None for an empty text."""
    if not text.strip():
        return None
    match = _DURATION.match(text.lower())
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration: a positive number with s, m, h, d or w")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _xdg_data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share; a relative value is invalid and ignored (XDG)."""
    configured = os.environ.get("XDG_DATA_HOME", "")
    return Path(configured) if os.path.isabs(configured) else Path.home() / ".local" / "share"


def _state_directory() -> Path | None:
    """systemd's StateDirectory= of the unit this process runs in (the first, if several)."""
    configured = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(configured) if configured else None


def default_data_dir() -> Path:
    """The master's (and `cloudai up`'s) data: the unit's state directory under systemd,
    else $XDG_DATA_HOME/cloudai."""
    return _state_directory() or _xdg_data_home() / "cloudai"


def default_worker_data_dir() -> Path:
    """A worker's data: its own unit's state directory, else $XDG_DATA_HOME/cloudai/worker."""
    return _state_directory() or _xdg_data_home() / "cloudai" / "worker"


class MasterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOUDAI_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port
    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    db: str | None = None  # SQLAlchemy URL; default: SQLite file in data_dir
    join_token: SecretStr | None = None  # default: generated and saved in data_dir
    jwt_secret: SecretStr | None = None  # default: generated and saved in data_dir
    jwt_ttl_s: int = Field(default=24 * 3600, gt=0)
    admin_email: str = "admin@cloudai.local"
    admin_password: SecretStr | None = None  # default: generated and saved in data_dir
    heartbeat_suspect_s: float = Field(default=15.0, gt=0)
    heartbeat_lost_s: float = Field(default=30.0, gt=0)
    schedule_interval_s: float = Field(default=1.0, gt=0)  # also woken on submit/finish
    assign_timeout_s: float = Field(default=10.0, gt=0)
    max_upload_bytes: int = Field(default=10 * 1024**3, gt=0)
    scheduler: SchedulerName = "round_robin"
    fair_share_half_life_s: float = Field(default=3600.0, gt=0)
    agent_timeout_s: float = Field(default=5.0, gt=0)
    agent_token: SecretStr | None = None  # default: generated and saved in data_dir
    # Quotas per user (admins exempt from the queued cap): submit answers 429 at the
    # queued cap; at the running cap tasks stay queued with the reason. None: no cap.
    max_queued_per_user: int | None = Field(default=10_000, gt=0)
    max_running_per_user: int | None = Field(default=None, gt=0)
    # Registries images may come from: comma-separated host[:port] (docker.io for Docker
    # Hub names); empty: any public one. Private and local hosts only when allowed.
    allowed_registries: str = ""
    allow_private_registries: bool = False
    registration: Registration = "open"  # admin-only: only admins create accounts
    # Browser origins (scheme://host[:port], comma-separated) whose pages may call the
    # REST API with credentials, e.g. the seed dashboard's http://localhost:3000.
    cors_origins: str = ""
    # Failed logins allowed per login_window_s, before that login is refused (429):
    login_failures_per_pair: int = Field(default=10, gt=0)  # one account from one address
    login_failures_per_address: int = Field(default=100, gt=0)  # one address, any account
    login_failures_per_account: int = Field(default=50, gt=0)  # see master/throttle.py
    login_window_s: float = Field(default=300.0, gt=0)
    login_tracked_max: int = Field(default=100_000, gt=0)  # memory bound of the counters
    # HOST:PORT pre-registered workers are told to dial (POST /api/workers); default
    # grpc_host:grpc_port, a wildcard host becoming the address that routes to the worker.
    grpc_advertise: str | None = None
    registration_ttl_s: float = Field(default=600.0, gt=0)  # a one-time registration token
    # How long finished tasks' logs and outputs are kept: a duration such as 30d, 12h,
    # 90m, 3600s (or plain seconds); empty: forever. The task rows stay.
    retention: str = ""

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",")):
            if origin and not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin: scheme://host[:port], no path")
        return value

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        parse_duration(value)
        return value

    def retention_s(self) -> float | None:
        return parse_duration(self.retention)

    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(o.strip() for o in self.cors_origins.split(",") if o.strip())

    def registry_policy(self) -> RegistryPolicy:
        listed = (name.strip() for name in self.allowed_registries.split(","))
        return RegistryPolicy(frozenset(n for n in listed if n), self.allow_private_registries)

    def database_url(self) -> str:
        return self.db or f"sqlite+aiosqlite:///{self.data_dir / 'cloudai.db'}"

    def secret_file(self, name: str) -> Path:
        """Where a generated secret (`ADMIN_PASSWORD_FILE`, `JOIN_TOKEN_FILE`) is kept."""
        return self.data_dir / "secrets" / name


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOUDAI_WORKER_", extra="ignore")

    master: str = Field(default="127.0.0.1:50051", validation_alias="CLOUDAI_MASTER")
    token: SecretStr = Field(default=SecretStr(""), validation_alias="CLOUDAI_JOIN_TOKEN")
    host: str = "127.0.0.1"  # address the worker listens on
    port: int = Field(default=50052, ge=0, le=65535)
    advertise: str | None = None  # HOST[:PORT] the master dials; default: host and port
    id: str | None = None  # default: hostname-port
    data_dir: Path = Field(
        default_factory=default_worker_data_dir, validation_alias="CLOUDAI_DATA_DIR"
    )
    executor: ExecutorKind = Field(default="docker", validation_alias="CLOUDAI_EXECUTOR")
    heartbeat_s: float = Field(default=5.0, gt=0)
    # Capacity offered to the master; default: what psutil sees on this machine.
    cpu: float | None = Field(default=None, gt=0)
    memory_gb: float | None = Field(default=None, gt=0)
    storage_gb: float | None = Field(default=None, gt=0)
    gpu: int | None = Field(default=None, ge=0)  # default: the GPUs NVML finds
    fake_gpus: int = Field(default=0, ge=0)  # testing aid: pretend to have this many GPUs
    stop_grace_s: float = Field(default=10.0, ge=0)
    on_shutdown: OnShutdown = "stop"
    # Per attempt: its log (past the cap: the first part and the tail, said in the log)
    # and its /output files collected (the rest named in the log and on the task).
    max_log_bytes: int = Field(default=1024**3, ge=1024)
    max_output_files: int = Field(default=1000, ge=0)
    max_output_bytes: int = Field(default=10 * 1024**3, ge=0)
    drain_timeout_s: float = Field(default=3600.0, ge=0)  # then `drain` stops what is left
    # A stopping worker's last try to report its interrupted attempts; then they stay
    # spooled on disk for its next start.
    stop_report_s: float = Field(default=10.0, ge=0)
    # Cut off from the master this long (partitioned, or the master down), a worker
    # stops its attempts (interrupted; requeued): bounded double execution. 0: never.
    disconnect_limit_s: float = Field(default=120.0, ge=0)
    # Results kept on disk until the master has them: dropped (with a log line) when
    # older than this, or, oldest first, beyond this many bytes.
    spool_max_age_s: float = Field(default=24 * 3600.0, gt=0)
    spool_max_bytes: int = Field(default=20 * 1024**3, gt=0)
    # Docker executor: when to pull a task's image, how long a pull may take (then the
    # attempt fails as pull_timeout, a counted retry), and a JSON file of credentials per
    # registry: {"host:port": {"username": "…", "password": "…"}}.
    pull_policy: PullPolicy = "if-not-present"
    pull_timeout_s: float = Field(default=600.0, gt=0)
    registry_auth_file: Path | None = None
    # Start without a join token and wait until an admin registers this worker (the
    # master calls MasterRegister with a one-time registration token).
    wait_for_master: bool = False

    @model_validator(mode="before")
    @classmethod
    def _by_field_name(cls, data: Any) -> Any:
        """Code builds settings by field name (`token=…`), the environment by alias only.
        (pydantic's validate_by_name would also read CLOUDAI_WORKER_TOKEN and the like:
        a second variable for the same setting.)"""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, field in cls.model_fields.items():
            if isinstance(field.validation_alias, str) and name in data:
                data[field.validation_alias] = data.pop(name)  # the given value wins
        return data


def env_var(settings: type[BaseSettings], field: str) -> str:
    """The one environment variable that sets `field` of `settings`."""
    alias = settings.model_fields[field].validation_alias
    if isinstance(alias, str):
        return alias
    return f"{settings.model_config.get('env_prefix', '')}{field}".upper()
