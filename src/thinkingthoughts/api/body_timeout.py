"""Bound the time a client may take to send its request body: 408 past it.

The clock starts when the headers are in (the request reaches the app) and covers every
read of the body, so a client trickling a byte at a time holds a connection no longer
than TT_BODY_TIMEOUT. A body the app never reads (an unknown route, a refusal before the
body) gets its answer with `connection: close`, so the server does not wait for it.
Once the body is in, reads (a stream waiting for the client to leave) are not timed.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thinkingthoughts.api.http_middleware import HttpMiddleware

CONNECTION_CLOSE = (b"connection", b"close")


class BodyReadTimeoutError(HTTPException):
    """Raised from a read of the body. An HTTPException, so that FastAPI's body parsing
    lets it through to the one error handler (it turns other exceptions into a 400)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body was not received within {seconds:g} seconds")


class BodyReadTimeoutMiddleware(HttpMiddleware):
    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        super().__init__(app)
        self.seconds = seconds

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        body_pending = declares_body(scope)
        if not body_pending:
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds

        async def timed_receive() -> Message:
            nonlocal body_pending
            if not body_pending:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyReadTimeoutError(self.seconds) from None
            body_pending = message["type"] == "http.request" and message.get("more_body", False)
            return message

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and body_pending:
                message = {**message, "headers": [*message.get("headers", []), CONNECTION_CLOSE]}
            await send(message)

        await self.app(scope, timed_receive, closing_send)


def declares_body(scope: Scope) -> bool:
    """Whether the request's headers announce a body (a length above 0, or chunks)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding" and b"chunked" in value.lower():
            return True
    return False
