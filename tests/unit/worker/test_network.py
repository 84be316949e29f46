"""The address a worker listening on a wildcard advertises to its master."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from cloudai.worker import network


def test_the_route_to_a_local_master_is_the_loopback() -> None:
    assert network.primary_address("127.0.0.1:50051") == "127.0.0.1"


def test_never_the_debian_hosts_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    # Debian's /etc/hosts maps the host name to 127.0.1.1: no other machine reaches it.
    monkeypatch.setattr(socket, "gethostbyname", lambda _name: "127.0.1.1")
    for master in ("", "master.invalid:50051", "10.9.8.7:50051"):
        assert network.primary_address(master) != "127.0.1.1"


def test_without_a_route_the_first_non_loopback_address_or_the_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(network, "source_address_towards", lambda _host: None)
    chosen = ipaddress.ip_address(network.primary_address("master.invalid:50051"))
    fallback = network.first_non_loopback_ipv4()
    assert str(chosen) == (fallback or "127.0.0.1")
