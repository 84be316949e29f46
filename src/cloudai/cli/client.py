"""A small HTTP client for the master's REST API, and the CLI's config directory.

It only speaks HTTP: nothing here imports the master, the worker or the store."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

if TYPE_CHECKING:
    import ssl

    import httpx  # imported when a Client is made: `--help` and shell completion go without

DEFAULT_URL = "http://127.0.0.1:8080"
FINAL = ("completed", "failed", "cancelled")
_CHUNK = 1024 * 1024


class CliError(Exception):
    """A problem the CLI reports as one line and exit status 1."""


class NotLoggedIn(CliError):
    """No usable stored login (and no CLOUDAI_TOKEN)."""


class ApiError(CliError):
    """The master answered with an error, or could not be reached (status 0)."""

    def __init__(self, status: int, error: str, detail: str, hint: str = "") -> None:
        self.status = status
        self.error = error
        self.detail = detail
        text = detail if status == 0 else f"{detail} ({status} {error})"
        super().__init__(f"{text}; {hint}" if hint else text)


def config_dir() -> Path:
    """$CLOUDAI_CONFIG_DIR, else $XDG_CONFIG_HOME/cloudai, else ~/.config/cloudai (XDG: a
    relative XDG_CONFIG_HOME is invalid and ignored)."""
    configured = os.environ.get("CLOUDAI_CONFIG_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".config") / "cloudai"


def ensure_config_dir() -> Path:
    """The config directory, created 0700 when it does not exist yet."""
    directory = config_dir()
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
        directory.chmod(0o700)  # mkdir's mode is masked by the umask
    return directory


class Client:
    """One method per REST endpoint; each returns the decoded JSON body or raises ApiError."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._hint_401 = "run `cloudai login` again" if token else ""
        import httpx  # a sixth of the CLI's start-up: only for commands that talk HTTP

        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, verify=_tls(self.url)
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._http.close()

    def login(self, email: str, password: str) -> dict[str, Any]:
        return self._call("POST", "/api/auth/login", json={"email": email, "password": password})

    def me(self) -> dict[str, Any]:
        return self._call("GET", "/api/auth/me")

    def logout(self) -> dict[str, Any]:
        return self._call("POST", "/api/auth/logout")

    def workers(self) -> dict[str, Any]:
        return self._call("GET", "/api/workers")

    def worker(self, worker_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/workers/{_id(worker_id)}")

    def worker_metrics(self, worker_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/workers/{_id(worker_id)}/metrics")

    def set_eligibility(self, worker_id: str, state: str) -> dict[str, Any]:
        return self._call("POST", f"/api/admin/workers/{_id(worker_id)}/{state}")

    def queue(self, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return self._call("GET", "/api/queue", params=params)

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/api/stats")

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/api/tasks", json=body)

    def list_tasks(
        self, status: str | None = None, limit: int = 100, id_prefix: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        if id_prefix:
            params["id_prefix"] = id_prefix
        return self._call("GET", "/api/tasks", params=params)

    def task(self, task_id: str) -> dict[str, Any]:
        return self._call("GET", _task(task_id))

    def wait(
        self, task_id: str, until: tuple[str, ...] = FINAL, timeout: float = 60.0
    ) -> dict[str, Any]:
        params = {"until": ",".join(until), "timeout": timeout}
        return self._call("GET", _task(task_id, "/wait"), params=params, timeout=timeout + 30)

    def logs(self, task_id: str, offset: int = 0) -> dict[str, Any]:
        return self._call("GET", _task(task_id, "/logs"), params={"offset": offset})

    def cancel(self, task_id: str) -> dict[str, Any]:
        return self._call("DELETE", _task(task_id))

    def files(self, task_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/files/{_id(task_id)}")

    def stored(
        self, user_id: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> dict[str, Any]:
        """Tasks with stored outputs (GET /api/files): yours, or (admins) a user's."""
        wanted = {"user_id": user_id, "limit": limit, "cursor": cursor}
        params = {key: value for key, value in wanted.items() if value is not None}
        return self._call("GET", "/api/files", params=params)

    def create_token(self, name: str, expires_in_days: int | None) -> dict[str, Any]:
        body = {"name": name, "expires_in_days": expires_in_days}
        return self._call("POST", "/api/auth/tokens", json=body)

    def tokens(self) -> dict[str, Any]:
        return self._call("GET", "/api/auth/tokens")

    def revoke_token(self, token_id: str) -> None:
        with self._transport():
            response = self._http.delete(f"/api/auth/tokens/{_id(token_id)}")
        if response.is_error:
            raise _api_error(response, self._hint_401)

    def download(
        self, task_id: str, path: str, sink: BinaryIO, advance: Callable[[int], None] | None = None
    ) -> str:
        """Stream the file into `sink` (telling `advance` each chunk's size); returns
        the sha256 of the bytes written."""
        digest = hashlib.sha256()
        with self._transport():
            url = f"/api/files/{_id(task_id)}/download/{quote(path)}"
            with self._http.stream("GET", url) as response:
                if response.is_error:
                    response.read()
                    raise _api_error(response, self._hint_401)
                for chunk in response.iter_bytes(_CHUNK):
                    digest.update(chunk)
                    sink.write(chunk)
                    if advance is not None:
                        advance(len(chunk))
        return digest.hexdigest()

    def request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """Any JSON endpoint without a method here (the admin verbs, cli/admin.py)."""
        return self._call(method, url, **kwargs)

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        with self._transport():
            response = self._http.request(method, url, **kwargs)
        if response.is_error:
            raise _api_error(response, self._hint_401)
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise ApiError(
                response.status_code, "bad_response", "the master answered non-JSON"
            ) from None
        return body

    def _transport(self) -> _TransportErrors:
        return _TransportErrors(self.url)


class _TransportErrors:
    """Turns connection failures into ApiError(0, ...) naming the master's URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        import httpx  # already loaded: a Client made the request

        if isinstance(exc, httpx.ConnectError):
            raise ApiError(0, "unreachable", f"cannot reach the master at {self.url}") from exc
        if isinstance(exc, httpx.TransportError):
            detail = f"cannot reach the master at {self.url}: {exc or type(exc).__name__}"
            raise ApiError(0, "unreachable", detail) from exc


_PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def _tls(url: str) -> ssl.SSLContext | bool:
    """Certificate checks as usual for an https master. For a plain-http one (no proxy in
    the environment) TLS is never used, and loading the CA bundle would cost a quarter of
    the command's start: a context that trusts no CA is given, so TLS would fail closed."""
    if url.startswith("http://") and not any(os.environ.get(v) for v in _PROXY_VARIABLES):
        import ssl

        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, against no CA at all
    return True


def _id(task_id: str) -> str:
    return quote(task_id, safe="")


def _task(task_id: str, suffix: str = "") -> str:
    return f"/api/tasks/{_id(task_id)}{suffix}"


def _api_error(response: httpx.Response, hint_401: str) -> ApiError:
    status = response.status_code
    hint = hint_401 if status == 401 else ""
    try:
        body = response.json()
        return ApiError(status, str(body["error"]), str(body["detail"]), hint)
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:200] or response.reason_phrase
        return ApiError(status, "http_error", text, hint)
