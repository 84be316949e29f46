"""Image names follow Docker's reference grammar; registries on private or local
addresses are refused unless allowed; an allow-list locks a cluster down."""

from __future__ import annotations

import pytest

from cloudai.domain.errors import InvalidRequest
from cloudai.domain.images import DOCKER_HUB, ImageReference, RegistryPolicy, parse_image

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("reference", "parsed"),
    [
        ("busybox", ImageReference(DOCKER_HUB, DOCKER_HUB, "busybox")),
        ("cloudai-test:latest", ImageReference(DOCKER_HUB, DOCKER_HUB, "cloudai-test", "latest")),
        ("library/python:3.12", ImageReference(DOCKER_HUB, DOCKER_HUB, "library/python", "3.12")),
        ("ghcr.io/org/app:v1", ImageReference("ghcr.io", "ghcr.io", "org/app", "v1")),
        ("localhost:5000/x", ImageReference("localhost:5000", "localhost", "x")),
        ("127.0.0.1:5000/a/b_c:t", ImageReference("127.0.0.1:5000", "127.0.0.1", "a/b_c", "t")),
        ("[::1]:5000/x", ImageReference("[::1]:5000", "::1", "x")),
        (f"app@{DIGEST}", ImageReference(DOCKER_HUB, DOCKER_HUB, "app", "", DIGEST)),
        ("Registry/x", ImageReference("Registry", "Registry", "x")),
        ("a__b-c/d.e", ImageReference(DOCKER_HUB, DOCKER_HUB, "a__b-c/d.e")),
    ],
)  # fmt: skip
def test_valid_references_are_parsed(reference: str, parsed: ImageReference) -> None:
    assert parse_image(reference) == parsed


@pytest.mark.parametrize(
    "reference",
    [
        "", "../../containers/victim", "x/../y", "UPPER", "a b", "x:", "x:-bad", "-x", "x/",
        "/x", "x//y", "x@sha256:short", "a" * 256, "host:port/x", "x..y", "bad_host_/x",
    ],
)  # fmt: skip
def test_invalid_references_are_refused(reference: str) -> None:
    with pytest.raises(InvalidRequest, match="image"):
        parse_image(reference)


@pytest.mark.parametrize(
    "reference",
    [
        "127.0.0.1:5000/x", "localhost/x", "10.1.2.3/x", "192.168.0.9:443/x", "169.254.169.254/x",
        "[::1]:5000/x", "[fd00::1]/x", "0.0.0.0/x", "registry.localhost/x",
    ],
)  # fmt: skip
def test_private_and_local_registries_are_refused_by_default(reference: str) -> None:
    reason = RegistryPolicy().refusal(parse_image(reference))
    assert reason is not None and "private or local address" in reason
    assert RegistryPolicy(private_allowed=True).refusal(parse_image(reference)) is None


def test_a_name_that_resolves_to_a_private_address_is_refused() -> None:
    image = parse_image("registry.example.test/x")
    assert RegistryPolicy().refusal(image) is None
    assert RegistryPolicy().refusal(image, ("93.184.216.34",)) is None
    assert RegistryPolicy().refusal(image, ("93.184.216.34", "10.0.0.1")) is not None


def test_an_allow_list_admits_only_its_registries() -> None:
    policy = RegistryPolicy(allowed=frozenset({"ghcr.io", "127.0.0.1:5000"}))
    assert policy.refusal(parse_image("ghcr.io/org/app")) is None
    assert policy.refusal(parse_image("127.0.0.1:5000/x")) is None  # listed: private is fine
    refused = policy.refusal(parse_image("busybox"))
    assert refused == "registry docker.io is not allowed here (allowed: 127.0.0.1:5000, ghcr.io)"
    hub = RegistryPolicy(allowed=frozenset({DOCKER_HUB}))
    assert hub.refusal(parse_image("busybox")) is None
    assert hub.refusal(parse_image("quay.io/x")) is not None
