"""What the gateway notes of every HTTP request: its id (`X-Request-ID` in, the same
out), its count and duration in the metrics, and one access line in the log.

Metrics are labelled by the route's template (never the raw path: ids stay out of the
labels), the method and the status."""

from __future__ import annotations

import logging
import time

from starlette.types import Message, Receive, Scope, Send

from thinkingthoughts.api.http_middleware import HttpMiddleware
from thinkingthoughts.observability.logs import ACCESS_LOGGER
from thinkingthoughts.observability.metrics import REQUEST_SECONDS, REQUESTS
from thinkingthoughts.observability.request_ids import (
    REQUEST_ID_HEADER,
    accepted_request_id,
    current_request_id,
)

UNMATCHED_ROUTE = "unmatched"
HEADER = REQUEST_ID_HEADER.lower().encode()
access_log = logging.getLogger(ACCESS_LOGGER)


class RequestObservationMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = accepted_request_id(_header(scope, HEADER))
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before it answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [*message.get("headers", ()), (HEADER, request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None)
            method = scope["method"]
            label = route or UNMATCHED_ROUTE
            REQUESTS.labels(route=label, method=method, status=str(status)).inc()
            REQUEST_SECONDS.labels(route=label, method=method).observe(seconds)
            if access_log.isEnabledFor(logging.INFO):
                _log_access(scope, route, status, seconds)
        # Not on an error: Starlette's outermost handler answers it after this, and its log
        # line and answer still carry the id (the request's task ends with it anyway).
        current_request_id.reset(token)


def _log_access(scope: Scope, route: str | None, status: int, seconds: float) -> None:
    duration_ms = round(seconds * 1000, 2)
    # As received, percent-encoded: a decoded path could put a line break in the log.
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    method, path = scope["method"], raw_path.decode("latin-1")
    access_log.info(
        "%s %s %d %.2f ms",
        method,
        path,
        status,
        duration_ms,
        extra={
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
        },
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
