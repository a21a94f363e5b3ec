"""`/v1/completions` and `/v1/embeddings`: relayed to the upstream, metered like chats.

Not persona-aware: a persona model there is a 400 (`model_not_supported`: personas answer
on `/v1/chat/completions`). Any other model must be one the key may use (403
`model_not_allowed`) and the upstream serves (404 `model_not_found`). The answer is the
upstream's own, relayed as it is (streamed text completions chunk by chunk); its
reported usage is what the key's meter settles, and nothing is stored but that usage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from thinkingthoughts.access.key_policy import KeyPolicy
from thinkingthoughts.engine.pipeline import require_allowed
from thinkingthoughts.engine.record import ReplyRelay
from thinkingthoughts.engine.turn import ReplyTarget
from thinkingthoughts.errors import InvalidRequestError
from thinkingthoughts.observability.metrics import counting_upstream_errors
from thinkingthoughts.openai_api.protocol import PERSONA_MODEL_PREFIX
from thinkingthoughts.storage.database import Database
from thinkingthoughts.upstream.client import EMBEDDINGS, TEXT_COMPLETIONS, UpstreamClient
from thinkingthoughts.upstream.models import ModelResolver
from thinkingthoughts.upstream.protocol import embedding_usage_from
from thinkingthoughts.usage.metering import TurnMeter


class ChunkStream(Protocol):
    """An opened stream of OpenAI chunks; `finish()` always runs, also after a failure."""

    def chunks(self) -> AsyncIterator[dict[str, Any]]: ...

    async def finish(self) -> None: ...


class TextCompletionStream:
    """The upstream's text completion chunks as they come; its usage chunk only when
    the client asked for it (the gateway always asks, to meter the key)."""

    def __init__(self, relay: ReplyRelay, *, include_usage: bool) -> None:
        self._relay = relay
        self._include_usage = include_usage

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        async for chunk in self._relay.chunks():
            if chunk.raw.get("choices") or self._include_usage:
                yield chunk.raw

    async def finish(self) -> None:
        await self._relay.finish()


class UpstreamRelay:
    def __init__(
        self, *, database: Database, upstream: UpstreamClient, models: ModelResolver
    ) -> None:
        self._database = database
        self._upstream = upstream
        self._models = models

    async def check_model(self, model: str, policy: KeyPolicy) -> None:
        """Refuse a persona model, a model outside the key's allow-list or unknown upstream."""
        if model.startswith(PERSONA_MODEL_PREFIX):
            raise InvalidRequestError(
                f"`{model}` is a persona model: personas answer on /v1/chat/completions only",
                code="model_not_supported",
                param="model",
            )
        require_allowed(policy, persona_slug=None, model=model)
        await self._models.resolve_named(model)

    async def embed(self, payload: dict[str, Any], meter: TurnMeter) -> dict[str, Any]:
        async with _observed(meter):
            answer = await self._upstream.post_json(EMBEDDINGS, payload)
        meter.observe(
            usage=embedding_usage_from(answer.get("usage")), content="", status="complete"
        )
        return answer

    async def complete_text(self, payload: dict[str, Any], meter: TurnMeter) -> dict[str, Any]:
        async with _observed(meter):
            completion = await self._upstream.complete(payload, path=TEXT_COMPLETIONS)
        meter.observe(usage=completion.usage, content=completion.content, status="complete")
        return completion.raw

    async def open_text_stream(
        self, payload: dict[str, Any], *, include_usage: bool, meter: TurnMeter
    ) -> TextCompletionStream:
        """Open the upstream stream; failures before its first byte raise here."""
        called_at = time.perf_counter()
        async with _observed(meter):
            upstream = await self._upstream.open_stream(payload, path=TEXT_COMPLETIONS)
        # No session: the relay records nothing but tells the meter what went through.
        target = ReplyTarget(
            session_id=None, message_id=None, model=str(payload["model"]), meter=meter
        )
        relay = ReplyRelay(self._database, target, upstream, called_at=called_at)
        return TextCompletionStream(relay, include_usage=include_usage)


@asynccontextmanager
async def _observed(meter: TurnMeter) -> AsyncIterator[None]:
    """Around an upstream call: failures are counted; a caller that leaves while the
    upstream works is charged the prompt, as an interrupted chat turn is."""
    try:
        with counting_upstream_errors():
            yield
    except asyncio.CancelledError:
        meter.observe(usage=None, content="", status="interrupted")
        raise
