"""The master process's start-up: a port in use is a clear error, and what had started
is stopped again (nothing keeps listening)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cloudai.config import MasterSettings
from cloudai.domain.errors import Unavailable
from cloudai.master.app import MasterApp


def settings(tmp_path: Path, http_port: int, grpc_port: int) -> MasterSettings:
    return MasterSettings(
        data_dir=tmp_path / "master", http_port=http_port, grpc_port=grpc_port,
        http_host="127.0.0.1", grpc_host="127.0.0.1",
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_http_port_in_use_fails_cleanly_and_releases_grpc(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = taken.getsockname()[1]
        grpc_port = free_port()
        master = MasterApp(settings(tmp_path, busy, grpc_port))
        with pytest.raises(Unavailable, match=f"cannot listen for HTTP on 127.0.0.1:{busy}"):
            await master.start()
    # The gRPC port it had bound is free again: a second master can take it.
    again = MasterApp(settings(tmp_path, 0, grpc_port))
    await again.start()
    try:
        assert again.grpc_port == grpc_port and again.http_port > 0
    finally:
        await again.stop()


async def test_grpc_port_in_use_fails_cleanly(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = taken.getsockname()[1]
        master = MasterApp(settings(tmp_path, 0, busy))
        with pytest.raises(Unavailable, match="cannot listen for gRPC"):
            await master.start()


async def test_two_masters_never_share_a_grpc_port(tmp_path: Path) -> None:
    first = MasterApp(settings(tmp_path / "one", 0, 0))
    await first.start()
    try:
        second = MasterApp(settings(tmp_path / "two", 0, first.grpc_port))
        with pytest.raises(Unavailable, match="cannot listen for gRPC"):
            await second.start()
    finally:
        await first.stop()
