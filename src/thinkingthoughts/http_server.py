"""The gateway's HTTP server protocol: uvicorn's httptools protocol with a bound on the
time a client may take to send a request's headers.

uvicorn bounds only the idle time between two requests of a kept-alive connection: a
client that opens a connection and sends nothing, or half a request line, holds it as
long as it likes. Here the clock starts when the connection is made (and, on a kept-alive
connection, at the next request's first byte) and stops when the headers are complete;
past TT_HEADER_TIMEOUT the client gets a 408 in the one error shape and the connection
is closed. The body's own bound is `api.body_timeout`'s.
"""

from __future__ import annotations

import asyncio
import functools
from asyncio import TimerHandle
from typing import Any, cast

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from thinkingthoughts.api.errors import error_body


def request_timeout_response(seconds: float) -> bytes:
    """A whole HTTP/1.1 408 answer that closes the connection."""
    body = orjson.dumps(
        error_body(
            "invalid_request_error",
            f"the request headers were not received within {seconds:g} seconds",
            "request_timeout",
        )
    )
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """One connection; `header_timeout` seconds for each request's headers."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._header_deadline: TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_clock()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_deadline is None:  # a connection's first request: running since made
            self._start_header_clock()

    def on_headers_complete(self) -> None:
        self._stop_header_clock()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)

    def _start_header_clock(self) -> None:
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_clock(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request is late while an earlier one is being answered:
            # finish that answer, then close.
            self.cycle.keep_alive = False
            return
        self.transport.write(request_timeout_response(self.header_timeout))
        self.transport.close()


def http_protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """The protocol class to hand uvicorn (`http=`). A partial of a module-level class,
    so that it pickles into the worker processes of `serve --workers N`."""
    # uvicorn calls it as it would the class; typed as one for its `http` option.
    return cast(
        type[asyncio.Protocol],
        functools.partial(HeaderTimeoutProtocol, header_timeout=header_timeout),
    )
