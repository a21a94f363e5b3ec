"""Storing the assistant's side of a turn, whichever API relayed it, whatever happened.

An upstream reply is never lost for what it contains: each reply, whole or chunk by chunk,
goes through `storable_completion` or `storable_chunk` before it is relayed, so a NUL or a
lone surrogate becomes U+FFFD once, and what the client receives is what is stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio

from thinkingthoughts.context.tokens import estimate_message_tokens
from thinkingthoughts.engine.turn import MessageStatus, ReplyTarget
from thinkingthoughts.errors import GatewayError
from thinkingthoughts.observability.metrics import (
    ACTIVE_STREAMS,
    FIRST_TOKEN_SECONDS,
    INTER_TOKEN_SECONDS,
    UPSTREAM_ERRORS,
    counting_upstream_errors,
)
from thinkingthoughts.storage import turn_rows
from thinkingthoughts.storage.database import Database
from thinkingthoughts.upstream.client import UpstreamStream
from thinkingthoughts.upstream.protocol import (
    Completion,
    StreamChunk,
    Usage,
    merge_tool_call_deltas,
)
from thinkingthoughts.value_rules import storable_json, storable_text


def storable_completion(completion: Completion) -> Completion:
    """The whole reply as it may be relayed and stored (the same object when clean)."""
    content, raw = storable_text(completion.content), storable_json(completion.raw)
    if content is completion.content and raw is completion.raw:
        return completion
    return dataclasses.replace(completion, content=content, raw=raw)


def storable_chunk(chunk: StreamChunk) -> StreamChunk:
    """One streamed chunk as it may be relayed and stored (the same object when clean)."""
    raw = storable_json(chunk.raw)
    if raw is chunk.raw and storable_text(chunk.content) is chunk.content:
        return chunk
    return dataclasses.replace(
        chunk,
        content=storable_text(chunk.content),
        raw=raw,
        tool_call_deltas=storable_json(chunk.tool_call_deltas),
    )


async def record_reply(
    database: Database,
    target: ReplyTarget,
    *,
    content: str,
    status: MessageStatus,
    usage: Usage | None = None,
    finish_reason: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> None:
    """Store the reply under its parent, as the session's new active leaf (a stateless
    turn has no session), and tell the meter.

    The text is made storable here too, so that no caller can lose a reply to it."""
    content = storable_text(content)
    if target.meter is not None:
        target.meter.observe(usage=usage, content=content, status=status)
    if target.session_id is None:
        return
    await database.run(
        partial(
            turn_rows.append_message,
            session_id=target.session_id,
            parent_id=target.parent_id,
            role="assistant",
            content=content,
            content_tokens=estimate_message_tokens(content),
            status=status,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            model=target.model,
            finish_reason=finish_reason,
            message_id=target.message_id,
            tool_calls=storable_json(tool_calls),
        )
    )


async def record_unfinished(database: Database, target: ReplyTarget, status: MessageStatus) -> None:
    """A reply that never started: the upstream failed, or the caller left first."""
    with anyio.CancelScope(shield=True):
        await record_reply(database, target, content="", status=status)


@asynccontextmanager
async def recorded_if_unanswered(database: Database, target: ReplyTarget) -> AsyncIterator[None]:
    """Around an upstream call that has produced nothing yet: a failure records an empty
    `error` reply, a caller that left an empty `interrupted` one, and both propagate."""
    try:
        with counting_upstream_errors():
            yield
    except GatewayError:
        await record_unfinished(database, target, "error")
        raise
    except asyncio.CancelledError:
        await record_unfinished(database, target, "interrupted")
        raise


class ReplyRelay:
    """Relays an upstream stream and remembers what went through, so that `finish()`
    (always called, also when the caller leaves) closes the upstream and stores exactly
    what was relayed, marked complete, interrupted or error."""

    def __init__(
        self,
        database: Database,
        target: ReplyTarget,
        upstream: UpstreamStream,
        *,
        called_at: float | None = None,
    ) -> None:
        """`called_at`: when the upstream was called (`time.perf_counter()`), for the
        time-to-first-token metric; default now."""
        self._database = database
        self._called_at = time.perf_counter() if called_at is None else called_at
        ACTIVE_STREAMS.inc()
        self._target = target
        self._upstream = upstream
        self._relayed: list[str] = []
        self._status: MessageStatus = "interrupted"
        self._finished = False
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.tool_calls: list[dict[str, Any]] = []

    async def chunks(self) -> AsyncIterator[StreamChunk]:
        last_token_at: float | None = None
        try:
            async for upstream_chunk in self._upstream.chunks():
                chunk = storable_chunk(upstream_chunk)
                self.usage = chunk.usage or self.usage
                self.finish_reason = chunk.finish_reason or self.finish_reason
                if chunk.content:
                    now = time.perf_counter()
                    if last_token_at is None:
                        FIRST_TOKEN_SECONDS.observe(now - self._called_at)
                    else:
                        INTER_TOKEN_SECONDS.observe(now - last_token_at)
                    last_token_at = now
                    self._relayed.append(chunk.content)
                if chunk.tool_call_deltas:
                    self.tool_calls = merge_tool_call_deltas(
                        self.tool_calls, chunk.tool_call_deltas
                    )
                yield chunk
            self._status = "complete"
        except GatewayError as failure:
            UPSTREAM_ERRORS.labels(kind=failure.code).inc()  # failed mid-stream
            self._status = "error"
            raise

    async def finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        ACTIVE_STREAMS.dec()
        # A caller that went away cancels this task; the record must still be written.
        with anyio.CancelScope(shield=True):
            self._upstream.close()
            await record_reply(
                self._database,
                self._target,
                content="".join(self._relayed),
                status=self._status,
                usage=self.usage,
                finish_reason=self.finish_reason,
                tool_calls=self.tool_calls,
            )
            if self._target.meter is not None:
                # Settled before the caller hears the end: its next request finds the slot free.
                await self._target.meter.close()
