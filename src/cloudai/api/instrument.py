"""Times every HTTP request for `cloudai_http_request_duration_seconds`."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from cloudai.master.metrics import Metrics

UNMATCHED = "unmatched"


class RequestTimingMiddleware:
    """Labels by the matched route's template, read after routing (the router writes
    it into the scope); anything that matched no route shares one label, so scanning
    random paths cannot grow the series."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self._app(scope, receive, send)
        finally:
            route = getattr(scope.get("route"), "path", None)
            template = route if isinstance(route, str) else UNMATCHED
            self._metrics.observe_http(scope["method"], template, time.perf_counter() - started)
