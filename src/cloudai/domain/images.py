"""Image references, parsed with Docker's reference grammar, and the registry policy.

An image name is handed to the worker's Docker daemon, which fetches from whatever
registry host it names: the no-network sandbox does not cover pulls. So a name is
parsed strictly at submit (anything outside the grammar, such as `../../containers/x`,
is refused), and a registry host on a loopback, link-local or private address is
refused unless the cluster allows it. Grammar: distribution/reference's `reference.go`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from cloudai.domain.errors import InvalidRequest

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[_.]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_PATH = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])"
_DOMAIN = re.compile(rf"(?P<host>{_HOST})(?::(?P<port>[0-9]+))?")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_MAX_NAME = 255

DOCKER_HUB = "docker.io"


@dataclass(frozen=True, slots=True)
class ImageReference:
    registry: str  # host[:port] as written; DOCKER_HUB when the name gives none
    host: str  # the registry's host alone (brackets of an IPv6 literal removed)
    path: str
    tag: str = ""
    digest: str = ""


def parse_image(reference: str) -> ImageReference:
    """The parts of `reference`, or InvalidRequest naming what is wrong."""
    rest, _, digest = reference.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise InvalidRequest(f"image {reference!r}: {digest!r} is not a valid digest")
    name, tag = _split_tag(rest)
    if tag is not None and not _TAG.fullmatch(tag):
        raise InvalidRequest(f"image {reference!r}: {tag!r} is not a valid tag")
    if not name or len(name) > _MAX_NAME:
        raise InvalidRequest(f"image {reference!r}: the name must be 1 to {_MAX_NAME} characters")
    registry, path = _split_domain(name)
    if registry and not _DOMAIN.fullmatch(registry):
        raise InvalidRequest(f"image {reference!r}: {registry!r} is not a valid registry host")
    if not _PATH.fullmatch(path):
        raise InvalidRequest(
            f"image {reference!r}: the repository {path!r} must be lowercase letters, digits "
            "and single separators (. _ __ -) between '/'-separated parts"
        )
    if not registry:
        return ImageReference(DOCKER_HUB, DOCKER_HUB, path, tag or "", digest)
    host = registry.rsplit(":", 1)[0] if not registry.endswith("]") else registry
    return ImageReference(registry, host.strip("[]"), path, tag or "", digest)


def _split_tag(rest: str) -> tuple[str, str | None]:
    """A tag follows the last ':' only if no '/' comes after it (else it is a port);
    None when there is no tag."""
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        return rest[:colon], rest[colon + 1 :]
    return rest, None


def _split_domain(name: str) -> tuple[str, str]:
    """Docker's rule: the first component is a registry host when it has a '.' or a
    ':', is `localhost`, or has an uppercase letter."""
    first, slash, remainder = name.partition("/")
    if slash and (any(c in first for c in ".:") or first == "localhost" or first != first.lower()):
        return first, remainder
    return "", name


@dataclass(frozen=True, slots=True)
class RegistryPolicy:
    """`allowed`: if not empty, the only registries images may come from (host[:port],
    or DOCKER_HUB for names without one). `private_allowed`: whether hosts on
    loopback, link-local and private addresses may be named."""

    allowed: frozenset[str] = frozenset()
    private_allowed: bool = False

    def refusal(self, image: ImageReference, addresses: tuple[str, ...] = ()) -> str | None:
        """Why `image` may not be pulled, or None. `addresses`: what its registry host
        resolves to (the caller resolves; nothing here does I/O)."""
        if self.allowed:
            if image.registry in self.allowed or image.host in self.allowed:
                return None
            listed = ", ".join(sorted(self.allowed))
            return f"registry {image.registry} is not allowed here (allowed: {listed})"
        if self.private_allowed or image.registry == DOCKER_HUB:
            return None
        for address in (image.host, *addresses):
            if _is_private(address):
                return (
                    f"registry {image.registry} is on a private or local address; "
                    "an admin may allow such registries (CLOUDAI_ALLOW_PRIVATE_REGISTRIES)"
                )
        return None


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_private(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global or address.is_multicast
