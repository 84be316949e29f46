"""Typed configuration. Every field can be set by a CLOUDAI_ environment variable;
command-line flags override them. Built once in each composition root and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".cloudai"


class MasterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOUDAI_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    db: str | None = None  # SQLAlchemy URL; default: SQLite file in data_dir
    join_token: SecretStr | None = None  # default: generated and saved in data_dir
    jwt_secret: SecretStr | None = None  # default: generated and saved in data_dir
    jwt_ttl_s: int = 24 * 3600
    admin_email: str = "admin@cloudai.local"
    admin_password: SecretStr | None = None  # default: generated and saved in data_dir
    heartbeat_suspect_s: float = 15.0
    heartbeat_lost_s: float = 30.0
    schedule_interval_s: float = 1.0  # the queue is also woken on every submit/finish
    assign_timeout_s: float = 10.0
    max_upload_bytes: int = 10 * 1024**3

    def database_url(self) -> str:
        return self.db or f"sqlite+aiosqlite:///{self.data_dir / 'cloudai.db'}"


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOUDAI_WORKER_", extra="ignore")

    master: str = "127.0.0.1:50051"
    token: SecretStr = SecretStr("")
    host: str = "127.0.0.1"  # address the worker listens on
    port: int = 50052
    advertise: str | None = None  # HOST[:PORT] the master dials; default: host and port
    id: str | None = None  # default: hostname-port
    data_dir: Path = Field(default_factory=lambda: default_data_dir() / "worker")
    executor: str = "docker"  # docker | process | fake
    heartbeat_s: float = 5.0
    # Capacity offered to the master; default: what psutil sees on this machine.
    cpu: float | None = None
    memory_gb: float | None = None
    storage_gb: float | None = None
    gpu: int | None = None
    stop_grace_s: float = 10.0
