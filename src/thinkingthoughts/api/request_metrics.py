"""Counts every answered request and times it, labelled by the route's template (never
the raw path: ids stay out of the labels), its method and its status."""

from __future__ import annotations

import time

from starlette.types import Message, Receive, Scope, Send

from thinkingthoughts.api.http_middleware import HttpMiddleware
from thinkingthoughts.observability.metrics import REQUEST_SECONDS, REQUESTS

UNMATCHED_ROUTE = "unmatched"


class RequestMetricsMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before it answers

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
            method = scope["method"]
            REQUESTS.labels(route=route, method=method, status=str(status)).inc()
            REQUEST_SECONDS.labels(route=route, method=method).observe(
                time.perf_counter() - started
            )
