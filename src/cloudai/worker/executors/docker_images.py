"""Images for the docker executor: the pull policy, registry credentials, pulls with
progress and a deadline, and short, safe reasons when a pull fails.

A pull runs in a thread of the executor's pull pool, reading dockerd's progress stream.
It reports at most every `report_every_s` ("pulling image x: 3 of 5 layers, 12.3 MB").
Past its deadline (or when its run is stopped) its connection to dockerd is shut down:
the blocked read ends at once, and dockerd cancels the pull. A failed pull's reason is
the daemon's message, cleaned: one line, no URL, no fetched body, at most 200 characters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
import urllib3
from docker.errors import DockerException, ImageNotFound

from cloudai.domain.attempts import PHASE_PULLING
from cloudai.domain.errors import InvalidRequest
from cloudai.domain.images import parse_image
from cloudai.worker.executors.base import Progress

log = logging.getLogger(__name__)

T = TypeVar("T")
# Runs a blocking call on the executor's pool of short Docker calls.
Call = Callable[[Callable[[], T]], Awaitable[T]]

PULL_POLICIES = ("if-not-present", "always", "never")
MAX_REASON = 200
_FAILURE_IMAGE = "image"  # not found, unauthorised, refused: final
_FAILURE_PULL_TIMEOUT = "pull_timeout"  # retried
_TIMEOUT_WORDS = ("timeout", "timed out", "deadline exceeded")
_UNAUTHORIZED_WORDS = ("unauthorized", "authentication required", "no basic auth", "denied")
_NOT_FOUND_WORDS = ("not found", "manifest unknown", "name unknown")
_GO_URL_ERROR = re.compile(r'\b[A-Z][a-z]+ "[^"]*": ')  # Go's url.Error: `Head "http://…": `
_MARKUP = re.compile(r"<[!/?a-zA-Z]")
_DONE = {"Pull complete", "Already exists"}
_LAYER_STATUSES = _DONE | {
    "Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum", "Download complete",
    "Extracting",
}  # fmt: skip


class StepFailed(Exception):
    """A step of a run failed; the message becomes `ExitStatus.error`, `failure` its
    `ExitStatus.failure`."""

    def __init__(self, message: str, failure: str = "") -> None:
        super().__init__(message)
        self.failure = failure


def explain(exc: BaseException) -> str:
    if isinstance(exc, requests.ConnectionError):
        return f"docker daemon unreachable ({exc})"
    # APIError.explanation is the daemon's own message, clearer than the HTTP wrapper.
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)


@contextmanager
def translating(what: str) -> Iterator[None]:
    """Turn SDK and transport errors (requests' errors are OSErrors) into `StepFailed`."""
    try:
        yield
    except (DockerException, OSError) as exc:
        raise StepFailed(f"{what}: {explain(exc)}") from exc


# -- settings ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PullOptions:
    policy: str = "if-not-present"
    timeout_s: float = 600.0
    # registry host[:port] -> {"username": …, "password": …}, the SDK's auth_config
    auths: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    report_every_s: float = 5.0

    def __post_init__(self) -> None:
        if self.policy not in PULL_POLICIES:
            raise ValueError(f"pull_policy must be one of {PULL_POLICIES}, not {self.policy!r}")


def load_registry_auths(path: Path) -> dict[str, dict[str, str]]:
    """Read `{"host:port": {"username": "…", "password": "…"}, …}`. Errors name the
    file and the entry, never a value: the file holds secrets."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"registry auth file {path}: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise InvalidRequest(f"registry auth file {path}: expected a JSON object")
    auths: dict[str, dict[str, str]] = {}
    for registry, entry in data.items():
        if not isinstance(entry, dict) or set(entry) != {"username", "password"}:
            raise InvalidRequest(
                f"registry auth file {path}: {registry!r} needs exactly username and password"
            )
        if not all(isinstance(v, str) for v in entry.values()):
            raise InvalidRequest(f"registry auth file {path}: {registry!r}: values are strings")
        auths[registry] = {"username": entry["username"], "password": entry["password"]}
    return auths


def auth_for(image: str, auths: Mapping[str, Mapping[str, str]]) -> dict[str, str] | None:
    """The credentials for `image`'s registry (host:port first, then the host alone)."""
    if not auths:
        return None
    try:
        ref = parse_image(image)
    except InvalidRequest:
        return None  # the pull itself says what is wrong with the name
    found = auths.get(ref.registry) or auths.get(ref.host)
    return dict(found) if found else None


# -- reasons ---------------------------------------------------------------------------


def pull_failure(detail: str) -> str:
    """The failure kind of a failed pull: a timeout is retried, anything else is final."""
    low = detail.lower()
    return _FAILURE_PULL_TIMEOUT if any(w in low for w in _TIMEOUT_WORDS) else _FAILURE_IMAGE


def pull_reason(image: str, detail: str) -> str:
    """`pull image 'x': <the daemon's message, cleaned>`, at most MAX_REASON characters."""
    text = clean_detail(detail)
    low = text.lower()
    if any(w in low for w in _UNAUTHORIZED_WORDS) and not low.startswith("unauthorized"):
        text = f"unauthorized: {text}"
    elif any(w in low for w in _NOT_FOUND_WORDS) and "not found" not in low:
        text = f"not found: {text}"
    return clip(f"pull image {image!r}: {text}")


def clean_detail(detail: str) -> str:
    """One printable line; no URL wrapper, no page the registry sent, no repetition."""
    text = " ".join("".join(c if c.isprintable() else " " for c in detail).split())
    markup = _MARKUP.search(text)
    if markup:  # a proxy's or registry's HTML error page, quoted by dockerd: drop it
        text = text[: markup.start()].rstrip(" :\"'") + " (the registry's page is not shown)"
    text = _GO_URL_ERROR.sub("", text)
    parts: list[str] = []
    for part in text.split(": "):
        if not parts or part != parts[-1]:  # "manifest unknown: manifest unknown"
            parts.append(part)
    return ": ".join(parts).strip() or "the registry gave no reason"


def clip(text: str, limit: int = MAX_REASON) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- progress --------------------------------------------------------------------------


class PullProgress:
    """Layers and bytes seen so far in dockerd's pull stream."""

    def __init__(self) -> None:
        self._done: dict[str, bool] = {}
        self._bytes: dict[str, int] = {}
        self._totals: dict[str, int] = {}

    def update(self, event: Mapping[str, Any]) -> None:
        layer, status = event.get("id"), event.get("status")
        if not isinstance(layer, str) or status not in _LAYER_STATUSES:
            return  # "Pulling from x" (its id is the tag), digests, warnings
        self._done[layer] = self._done.get(layer, False) or status in _DONE
        detail = event.get("progressDetail") or {}
        if status == "Downloading":
            self._bytes[layer] = int(detail.get("current") or 0)
            self._totals[layer] = int(detail.get("total") or 0)
        elif status == "Download complete" and self._totals.get(layer):
            self._bytes[layer] = self._totals[layer]

    def message(self, image: str) -> str:
        if not self._done:
            return f"pulling image {image}"
        done = sum(self._done.values())
        megabytes = sum(self._bytes.values()) / 1e6
        return f"pulling image {image}: {done} of {len(self._done)} layers, {megabytes:.1f} MB"


# -- interrupting a pull ---------------------------------------------------------------

_pulling = threading.local()  # the PullHandle of the pull this thread runs, if any
_hook_lock = threading.Lock()


class PullHandle:
    """Ends one pull from another thread by shutting its connection to dockerd down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: Any = None
        self.cancelled = False

    def attach(self, response: Any) -> None:
        with self._lock:
            self._response = response
            cancelled = self.cancelled
        if cancelled:
            _shut(response)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            response = self._response
        if response is not None:
            _shut(response)


def _shut(response: Any) -> None:
    # None once the stream was read to its end: the connection went back to the pool.
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked reading it
    except OSError as exc:  # closed meanwhile
        log.debug("shutting a pull's connection down failed: %s", exc)


def _capture(response: Any, *args: Any, **kwargs: Any) -> Any:
    """A requests response hook: hands the pull's streamed response to its handle.
    Hooks run in the thread that sent the request, so the thread-local finds it."""
    handle = getattr(_pulling, "handle", None)
    if handle is not None:
        handle.attach(response)
    return response


def _watch_responses(api: Any) -> None:
    hooks = getattr(api, "hooks", None)  # the SDK's APIClient is a requests.Session
    if not isinstance(hooks, dict):
        return
    with _hook_lock:
        responses = hooks.setdefault("response", [])
        if _capture not in responses:
            responses.append(_capture)


def _pull_blocking(
    api: Any,
    image: str,
    auth: dict[str, str] | None,
    handle: PullHandle,
    report: Callable[[str], None],
    every_s: float,
) -> None:
    """Pull, reading the progress stream to its end; raises on an error in it."""
    _watch_responses(api)
    _pulling.handle = handle
    try:
        progress, last = PullProgress(), time.monotonic()
        for event in api.pull(image, stream=True, decode=True, auth_config=auth):
            error = event.get("error") or (event.get("errorDetail") or {}).get("message")
            if error:
                raise _StreamError(str(error))
            progress.update(event)
            if time.monotonic() - last >= every_s:
                report(progress.message(image))
                last = time.monotonic()
    finally:
        _pulling.handle = None


class _StreamError(Exception):
    """dockerd reported an error inside the pull's stream (the HTTP status was 200)."""


# -- the puller ------------------------------------------------------------------------


class ImagePuller:
    """Makes an image present by the pull policy. Pulls run on `pulls`, lookups through
    `call` (the executor's pool of short calls), so a long pull never delays them.

    An image once found present (or pulled) is not looked up again: the create that
    follows names it anyway, and when that create finds it gone the caller `forget`s it
    and ensures it once more, so the policy still decides (as `docker run` does)."""

    def __init__(self, options: PullOptions, pulls: Executor, call: Call[Any]) -> None:
        self.options = options
        self._pulls = pulls
        self._call = call
        self._known_present: set[str] = set()

    async def ensure(self, client: Any, image: str, progress: Progress, handle: PullHandle) -> None:
        """Raises StepFailed (failure "image", "pull_timeout" or "") when it cannot."""
        policy = self.options.policy
        if policy != "always":
            if image in self._known_present or await self._present(client, image):
                self._known_present.add(image)
                return
            if policy == "never":
                raise StepFailed(
                    f"image {image!r} is not present locally and pull_policy is 'never'",
                    _FAILURE_IMAGE,
                )
        progress(PHASE_PULLING, f"pulling image {image}")
        await self._pull(client, image, progress, handle)
        self._known_present.add(image)

    def forget(self, image: str) -> bool:
        """Look `image` up again next time (it was found gone); False if it was not known."""
        known = image in self._known_present
        self._known_present.discard(image)
        return known

    async def _present(self, client: Any, image: str) -> bool:
        with translating(f"look up image {image!r}"):
            try:
                await self._call(lambda: client.images.get(image))
            except ImageNotFound:
                return False
        return True

    async def _pull(self, client: Any, image: str, progress: Progress, handle: PullHandle) -> None:
        loop = asyncio.get_running_loop()

        def report(message: str) -> None:  # from the pull's thread
            try:
                loop.call_soon_threadsafe(progress, PHASE_PULLING, message)
            except RuntimeError:  # the loop closed meanwhile; nobody waits for it
                log.debug("pull progress after the event loop closed: %s", message)

        auth = auth_for(image, self.options.auths)
        every_s = self.options.report_every_s
        future = loop.run_in_executor(
            self._pulls, _pull_blocking, client.api, image, auth, handle, report, every_s
        )
        future.add_done_callback(_retrieve)  # an abandoned pull's error is not news
        try:
            done, _ = await asyncio.wait({future}, timeout=self.options.timeout_s)
        finally:
            if not future.done():  # past the deadline, or this run was cancelled
                handle.cancel()
        if not done:
            timeout = self.options.timeout_s
            raise StepFailed(
                clip(f"pull image {image!r}: timed out after {timeout:g} s"), _FAILURE_PULL_TIMEOUT
            )
        _raise_pull_error(image, future)


def _raise_pull_error(image: str, future: asyncio.Future[None]) -> None:
    try:
        future.result()
    except requests.ConnectionError as exc:  # dockerd itself, not the registry
        raise StepFailed(f"pull image {image!r}: {explain(exc)}") from exc
    except (DockerException, _StreamError) as exc:
        detail = explain(exc)
        raise StepFailed(pull_reason(image, detail), pull_failure(detail)) from exc
    except (OSError, urllib3.exceptions.HTTPError) as exc:  # the stream from dockerd broke
        raise StepFailed(f"pull image {image!r}: reading from dockerd failed ({exc})") from exc


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
