"""The HTTP side of a turn, written once for every dialect (native chat, chat
completions, responses, text completions, embeddings).

A route admits the key's turn (`admitted_turn`), lets its dialect resolve and prepare
the turn, tells the meter what was resolved, then answers either whole (`whole`: a
client that leaves cancels the work and gets 499) or streamed (`streamed`: the upstream
is opened within the grace, then the dialect's events go out as Server-Sent Events with
keep-alives). Whatever happens, the key's meter is settled exactly once: when the block
ends, or after the streamed response when a stream was handed over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import Request, Response
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask

from thinkingthoughts.access.principal import Principal
from thinkingthoughts.api.disconnect import CLIENT_CLOSED_REQUEST, unless_client_leaves
from thinkingthoughts.api.streaming import start_within_grace
from thinkingthoughts.resources import GatewayResources
from thinkingthoughts.usage.metering import KeyMeter

R = TypeVar("R")
S = TypeVar("S")

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""No cache and no proxy buffering: each event reaches the client as it is sent."""


class AdmittedTurn:
    """A turn the key's limits admitted; answers it whole or streamed."""

    def __init__(self, meter: KeyMeter, http: Request, keepalive_seconds: float) -> None:
        self.meter = meter
        self._http = http
        self._keepalive_seconds = keepalive_seconds
        self.handed_to_stream = False

    async def whole(
        self, answering: Coroutine[Any, Any, R], encode: Callable[[R], Response]
    ) -> Response:
        """The whole answer; 499 when the client left first (the work is cancelled)."""
        result = await unless_client_leaves(self._http, answering)
        if result is None:
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        return encode(result)

    async def streamed(
        self,
        opening: Awaitable[S],
        *,
        events: Callable[[asyncio.Task[S]], AsyncIterator[dict[str, str]]],
        close: Callable[[S], Awaitable[None]],
        headers: Mapping[str, str] | None = None,
        separator: str | None = None,
    ) -> Response:
        """Open the stream within the grace (a fast refusal is still a status), then
        relay `events(opening)`. After the response, an opening still under way is
        cancelled, an opened stream is `close`d, and the meter is settled."""
        started = await start_within_grace(self._http, opening)
        if started is None:
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        response = EventSourceResponse(
            events(started),
            ping=self._keepalive_seconds,
            sep=separator,
            headers={**(headers or {}), **STREAM_HEADERS},
            background=BackgroundTask(self._after_stream, started, close),
        )
        self.handed_to_stream = True
        return response

    async def _after_stream(
        self, opening: asyncio.Task[S], close: Callable[[S], Awaitable[None]]
    ) -> None:
        try:
            if not opening.done():
                opening.cancel()
                await asyncio.gather(opening, return_exceptions=True)
            elif not opening.cancelled() and opening.exception() is None:
                await close(opening.result())
        finally:
            await self.meter.close()


@asynccontextmanager
async def admitted_turn(
    http: Request, resources: GatewayResources, principal: Principal, *, estimated_tokens: int
) -> AsyncIterator[AdmittedTurn]:
    """Admit the key's turn (429 when its limits are reached); the meter is settled when
    the block ends, unless a stream was handed over (then after the stream)."""
    meter = await resources.metering.admit(principal, estimated_tokens=estimated_tokens)
    turn = AdmittedTurn(meter, http, resources.settings.sse_keepalive_seconds)
    try:
        yield turn
    finally:
        if not turn.handed_to_stream:
            await meter.close()
