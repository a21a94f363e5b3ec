"""`X-RateLimit-*` headers on every answer to a counted request, whatever its kind."""

from __future__ import annotations

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATE_KEY = "rate_limit_headers"


def set_rate_limit_headers(request: Request, headers: dict[str, str]) -> None:
    request.scope.setdefault("state", {})[STATE_KEY] = headers


class RateLimitHeadersMiddleware:
    """Adds what the rate limiter left in the request's state to the response start.

    A middleware rather than the route, because streamed and prebuilt responses do not
    take headers from dependencies.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = scope.get("state", {}).get(STATE_KEY)
                if extra:
                    names = {name.lower() for name, _ in message.get("headers", [])}
                    message["headers"] = [
                        *message.get("headers", []),
                        *(
                            (name.lower().encode(), value.encode())
                            for name, value in extra.items()
                            if name.lower().encode() not in names
                        ),
                    ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
