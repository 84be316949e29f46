"""docker_images without a daemon: reasons for failed pulls, the credentials file,
progress lines, and the pull policy and deadline against a scripted client."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError, ImageNotFound, NotFound

from cloudai.domain.errors import InvalidRequest
from cloudai.worker.executors.docker_images import (
    MAX_REASON,
    ImagePuller,
    PullHandle,
    PullOptions,
    PullProgress,
    StepFailed,
    auth_for,
    load_registry_auths,
    pull_failure,
    pull_reason,
)

IMAGE = "registry.example:5000/team/app:1"


def test_a_registry_error_page_is_never_in_the_reason() -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body>"
    detail = (
        "error parsing HTTP 502 response body: invalid character '<' looking for beginning "
        f'of value: "{page}"'
    )
    reason = pull_reason(IMAGE, detail)
    assert "<" not in reason.replace("'<'", "") and "html" not in reason.lower()
    assert reason.startswith(f"pull image {IMAGE!r}: error parsing HTTP 502 response body")
    assert len(reason) <= MAX_REASON


def test_reasons_are_one_short_line_without_urls_or_repetition() -> None:
    unauthorized = pull_reason(
        IMAGE, 'Head "http://registry.example:5000/v2/team/app/manifests/1": no basic auth '
        "credentials",
    )  # fmt: skip
    assert unauthorized == f"pull image {IMAGE!r}: unauthorized: no basic auth credentials"
    missing = pull_reason(IMAGE, "manifest for x not found: manifest unknown: manifest unknown")
    assert missing == f"pull image {IMAGE!r}: manifest for x not found: manifest unknown"
    assert pull_reason(IMAGE, "name unknown") == f"pull image {IMAGE!r}: not found: name unknown"
    assert pull_reason(IMAGE, "unauthorized: authentication required").endswith(
        ": unauthorized: authentication required"
    )
    long = pull_reason(IMAGE, "line one\nline\ttwo\x1b[31m " + "y" * 400)
    assert "\n" not in long and "\x1b" not in long and len(long) == MAX_REASON
    assert long.endswith("…")
    assert pull_reason(IMAGE, "") == f"pull image {IMAGE!r}: the registry gave no reason"


def test_only_timeouts_are_retried() -> None:
    assert pull_failure("net/http: request canceled (Client.Timeout exceeded)") == "pull_timeout"
    assert pull_failure("read tcp: i/o timeout") == "pull_timeout"
    assert pull_failure("context deadline exceeded") == "pull_timeout"
    assert pull_failure("unauthorized: authentication required") == "image"
    assert pull_failure("manifest unknown") == "image"


def test_the_auth_file_is_read_and_checked_without_echoing_secrets(tmp_path: Path) -> None:
    path = tmp_path / "auths.json"
    path.write_text(json.dumps({"reg:5000": {"username": "u", "password": "p"}}))
    assert load_registry_auths(path) == {"reg:5000": {"username": "u", "password": "p"}}
    bad = [
        "not json {",
        json.dumps(["reg:5000"]),
        json.dumps({"reg:5000": {"username": "u"}}),
        json.dumps({"reg:5000": {"username": "u", "password": 7}}),
        json.dumps({"reg:5000": {"username": "u", "password": "s3cret", "token": "x"}}),
    ]
    for text in bad:
        path.write_text(text)
        with pytest.raises(InvalidRequest) as raised:
            load_registry_auths(path)
        assert str(path) in str(raised.value) and "s3cret" not in str(raised.value)
    with pytest.raises(InvalidRequest, match=r"missing\.json"):
        load_registry_auths(tmp_path / "missing.json")


def test_credentials_are_chosen_by_the_images_registry() -> None:
    auths = {
        "reg.example:5000": {"username": "a", "password": "1"},
        "reg.example": {"username": "b", "password": "2"},
        "docker.io": {"username": "c", "password": "3"},
    }
    assert auth_for("reg.example:5000/x:1", auths) == {"username": "a", "password": "1"}
    assert auth_for("reg.example:6000/x:1", auths) == {"username": "b", "password": "2"}
    assert auth_for("busybox:1", auths) == {"username": "c", "password": "3"}
    assert auth_for("other.example/x", auths) is None
    assert auth_for("../../bad", auths) is None
    assert auth_for("reg.example:5000/x", {}) is None


def test_progress_counts_layers_and_bytes() -> None:
    progress = PullProgress()
    assert progress.message("x") == "pulling image x"
    for event in [
        {"status": "Pulling from team/app", "id": "1"},
        {"status": "Already exists", "id": "a"},
        {"status": "Pulling fs layer", "id": "b"},
        {"status": "Pulling fs layer", "id": "c"},
        {"status": "Downloading", "id": "b", "progressDetail": {"current": 2_000_000,
                                                                  "total": 5_000_000}},
        {"status": "Download complete", "id": "c"},
        {"status": "Downloading", "id": "b", "progressDetail": {"current": 4_500_000,
                                                                  "total": 5_000_000}},
        {"status": "Download complete", "id": "b"},
        {"status": "Pull complete", "id": "b"},
        {"status": "Digest: sha256:00"},
    ]:  # fmt: skip
        progress.update(event)
    assert progress.message("x") == "pulling image x: 2 of 3 layers, 5.0 MB"


class FakeApi:
    """`pull` yields the scripted events; `block` holds it until released or shut."""

    def __init__(self, events: list[dict[str, Any]], block: threading.Event | None = None):
        self.events = events
        self.block = block
        self.pulls: list[tuple[str, Any]] = []

    def pull(self, image: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.pulls.append((image, kwargs.get("auth_config")))
        if self.block is not None:
            self.block.wait(30)
        yield from self.events


class FakeImages:
    def __init__(self, present: bool) -> None:
        self.present = present

    def get(self, image: str) -> object:
        if not self.present:
            raise ImageNotFound("no such image")
        return object()


class FakeClient:
    def __init__(self, api: FakeApi, present: bool = False) -> None:
        self.api = api
        self.images = FakeImages(present)


@pytest.fixture
def pools() -> Iterator[tuple[ThreadPoolExecutor, ThreadPoolExecutor]]:
    pulls, calls = ThreadPoolExecutor(2), ThreadPoolExecutor(2)
    yield pulls, calls
    pulls.shutdown(cancel_futures=True)
    calls.shutdown(cancel_futures=True)


def _puller(pools: tuple[ThreadPoolExecutor, ThreadPoolExecutor], **options: Any) -> ImagePuller:
    pulls, calls = pools

    async def call(fn: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(calls, fn)

    return ImagePuller(PullOptions(**options), pulls, call)


async def test_the_policy_decides_whether_to_pull(pools: Any) -> None:
    seen: list[tuple[str, str]] = []
    present, missing = FakeClient(FakeApi([]), present=True), FakeClient(FakeApi([]))

    await _puller(pools).ensure(present, IMAGE, lambda *p: seen.append(p), PullHandle())
    assert present.api.pulls == [] and seen == []
    await _puller(pools, policy="always").ensure(present, IMAGE, lambda *p: None, PullHandle())
    assert len(present.api.pulls) == 1
    with pytest.raises(StepFailed) as never:
        await _puller(pools, policy="never").ensure(missing, IMAGE, lambda *p: None, PullHandle())
    assert never.value.failure == "image" and "not present locally" in str(never.value)
    auths = {"registry.example:5000": {"username": "u", "password": "p"}}
    await _puller(pools, auths=auths).ensure(missing, IMAGE, lambda *p: seen.append(p),
                                             PullHandle())  # fmt: skip
    assert missing.api.pulls == [(IMAGE, {"username": "u", "password": "p"})]
    assert seen == [("pulling", f"pulling image {IMAGE}")]


async def test_progress_reports_are_throttled(pools: Any) -> None:
    events = [{"status": "Pulling fs layer", "id": str(i)} for i in range(50)]
    client = FakeClient(FakeApi(events))
    every: list[str] = []
    await _puller(pools, report_every_s=0.0).ensure(
        client, IMAGE, lambda _p, m: every.append(m), PullHandle()
    )
    throttled: list[str] = []
    await _puller(pools, report_every_s=3600.0).ensure(
        client, IMAGE, lambda _p, m: throttled.append(m), PullHandle()
    )
    assert len(every) == 51 and every[-1].endswith("0 of 50 layers, 0.0 MB")
    assert throttled == [f"pulling image {IMAGE}"]  # only the first line


async def test_errors_in_the_stream_and_from_the_daemon_are_reasons(pools: Any) -> None:
    stream = FakeClient(FakeApi([{"error": "unauthorized: authentication required",
                                  "errorDetail": {"message": "unauthorized: authentication "
                                                             "required"}}]))  # fmt: skip
    with pytest.raises(StepFailed) as raised:
        await _puller(pools).ensure(stream, IMAGE, lambda *p: None, PullHandle())
    assert raised.value.failure == "image"
    assert str(raised.value) == f"pull image {IMAGE!r}: unauthorized: authentication required"

    class Refusing(FakeApi):
        def pull(self, image: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
            raise NotFound("404", explanation="manifest unknown")

    with pytest.raises(StepFailed) as missing:
        await _puller(pools).ensure(FakeClient(Refusing([])), IMAGE, lambda *p: None,
                                    PullHandle())  # fmt: skip
    assert missing.value.failure == "image" and "not found: manifest unknown" in str(missing.value)

    class Slow(FakeApi):
        def pull(self, image: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
            raise APIError("500", explanation='Get "http://r/v2/": i/o timeout')

    with pytest.raises(StepFailed) as slow:
        await _puller(pools).ensure(FakeClient(Slow([])), IMAGE, lambda *p: None, PullHandle())
    assert slow.value.failure == "pull_timeout"


async def test_a_pull_past_its_deadline_fails_and_is_cancelled(pools: Any) -> None:
    block = threading.Event()
    client = FakeClient(FakeApi([{"status": "Pulling fs layer", "id": "a"}], block))
    handle = PullHandle()
    try:
        with pytest.raises(StepFailed) as raised:
            await _puller(pools, timeout_s=0.2).ensure(client, IMAGE, lambda *p: None, handle)
    finally:
        block.set()
    assert raised.value.failure == "pull_timeout"
    assert str(raised.value) == f"pull image {IMAGE!r}: timed out after 0.2 s"
    assert handle.cancelled  # its connection to dockerd is shut as soon as it has one
