"""`X-RateLimit-*` headers on every answer to a counted request, whatever its kind."""

from __future__ import annotations

from fastapi import Request
from starlette.types import Message, Receive, Scope, Send

from thinkingthoughts.api.http_middleware import HttpMiddleware

STATE_KEY = "rate_limit_headers"


def set_rate_limit_headers(request: Request, headers: dict[str, str]) -> None:
    request.scope.setdefault("state", {})[STATE_KEY] = headers


class RateLimitHeadersMiddleware(HttpMiddleware):
    """Adds what the rate limiter left in the request's state to the response start.

    A middleware rather than the route, because streamed and prebuilt responses do not
    take headers from dependencies.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:

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
