"""What a key consumes, per turn: admitted against its limits, charged, accounted for.

A turn is admitted before anything is written (the token window must fit the estimate of
its new messages; a stream slot is free), charged that estimate when the upstream is
called (so concurrent turns see each other), and settled when it ends: the token window
is charged the rest of the upstream's reported usage, the usage row is updated, the
stream slot goes back. The estimate charged up front is the new messages only, never the
whole prompt: the window can take more afterwards but nothing back (a sliding-window
counter has no refund), and the new messages never outweigh the whole turn. `close()`
settles, at most once, on every path; a slot never given back expires with its lease.
"""

from __future__ import annotations

import anyio

from thinkingthoughts.chat.metering import settled_usage
from thinkingthoughts.chat.turns import MessageStatus
from thinkingthoughts.observability.metrics import TOKENS
from thinkingthoughts.security.principal import Principal
from thinkingthoughts.security.rate_limits import RateLimiter, StreamSlot
from thinkingthoughts.security.usage_ledger import UsageKey, UsageLedger
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.upstream.protocol import Usage

RAW_MODEL_PERSONA = ""
"""The usage rows' persona for turns on a plain upstream model."""


class Metering:
    def __init__(self, ledger: UsageLedger, limiter: RateLimiter) -> None:
        self._ledger = ledger
        self._limiter = limiter

    async def admit(self, principal: Principal, *, estimated_tokens: int) -> KeyMeter:
        """Refuse with 429 a turn the key's token window or stream slots cannot take."""
        await self._limiter.check_tokens(principal, estimated_tokens)
        slot = await self._limiter.open_stream(principal)
        return KeyMeter(self._ledger, self._limiter, principal, slot, estimated_tokens)


class KeyMeter:
    def __init__(
        self,
        ledger: UsageLedger,
        limiter: RateLimiter,
        principal: Principal,
        slot: StreamSlot | None,
        admitted_tokens: int = 0,
    ) -> None:
        self._ledger = ledger
        self._limiter = limiter
        self._principal = principal
        self._slot = slot
        self._persona: str | None = None
        self._model: str | None = None
        self._prompt_estimate = 0
        self._charged = max(0, admitted_tokens)
        self._usage: Usage | None = None
        self._closed = False

    async def begin(self, *, persona: str | None, model: str, prompt_estimate: int) -> None:
        """The upstream is about to be called with a prompt of about this size; the
        admitted estimate is charged now."""
        self._persona = persona
        self._model = model
        self._prompt_estimate = prompt_estimate
        await self._limiter.charge_tokens(self._principal, self._charged)

    def observe(self, *, usage: Usage | None, content: str, status: MessageStatus) -> None:
        self._usage = settled_usage(
            reported=usage, content=content, status=status, prompt_estimate=self._prompt_estimate
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            if self._slot is not None:
                await self._slot.release()
            if self._model is None:
                return
            usage = self._usage or Usage(prompt_tokens=0, completion_tokens=0)
            await self._limiter.charge_tokens(self._principal, usage.total_tokens - self._charged)
            await self._account(self._model, usage)

    async def _account(self, model: str, usage: Usage) -> None:
        where = UsageKey(
            key_id=self._principal.key_id,
            day=utcnow().date(),
            persona=self._persona or RAW_MODEL_PERSONA,
            model=model,
        )
        await self._ledger.add(
            where, prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens
        )
        TOKENS.labels(kind="prompt", persona=where.persona, model=model).inc(usage.prompt_tokens)
        TOKENS.labels(kind="completion", persona=where.persona, model=model).inc(
            usage.completion_tokens
        )
