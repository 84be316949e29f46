"""Which address the master can reach this worker on."""

from __future__ import annotations

import contextlib
import ipaddress
import socket

import psutil


def source_address_towards(host: str) -> str | None:
    """The local address the kernel would send from to reach `host` (no packet is
    sent: connecting a UDP socket only picks the route). None when there is no route."""
    try:
        infos = socket.getaddrinfo(host, 9, type=socket.SOCK_DGRAM)
    except OSError:
        return None
    for family, kind, proto, _, address in infos:
        with contextlib.suppress(OSError), socket.socket(family, kind, proto) as probe:
            probe.connect(address)
            local: str = probe.getsockname()[0]
            return local
    return None


def first_non_loopback_ipv4() -> str | None:
    for addresses in psutil.net_if_addrs().values():
        for entry in addresses:
            if (
                entry.family == socket.AF_INET
                and not ipaddress.ip_address(entry.address).is_loopback
            ):
                return str(entry.address)
    return None


def primary_address(master: str) -> str:
    """For a wildcard listen address: the address on the route to the master (what it
    will dial back), else the first non-loopback IPv4 address, else the loopback. Not
    `gethostbyname(gethostname())`: on a stock Debian /etc/hosts that is 127.0.1.1,
    which no other machine can reach."""
    host = master.rsplit(":", 1)[0].strip("[]") if master else ""
    found = source_address_towards(host) if host else None
    return found or first_non_loopback_ipv4() or "127.0.0.1"
