"""Counts every answered request and times it, labelled by the route's template (never
the raw path: ids stay out of the labels), its method and its status."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thinkingthoughts.observability.metrics import REQUEST_SECONDS, REQUESTS

UNMATCHED_ROUTE = "unmatched"


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
