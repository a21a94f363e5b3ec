"""What a key consumes, per turn: admitted against its limits, settled, accounted for.

A turn is admitted before anything is written: a stream slot is taken, and the token
window must take what the turn may use, which is reserved at once (one atomic step, so
concurrent turns see each other): the prompt actually sent (estimated) plus the reply's
ceiling (`max_tokens`). Reserving the ceiling, not a guess of the reply, is what holds a
concurrent burst to the limit whatever its replies turn out to be; the unused part goes
back when the turn ends. A native turn reserves before its user message is stored (a
refused request stores nothing) and adjusts the reservation once its final prompt is
known.

`close()` settles the turn, at most once, on every path, and never raises: the usage is
written to the ledger first, then the token window is settled to the upstream's reported
usage and the stream slot is given back, both best effort. It runs when the reply is
recorded, before the client hears that the reply ended, so the key's next request finds
its slot free; bookkeeping never turns a delivered reply into a failure.
"""

from __future__ import annotations

import logging
from typing import Protocol

import anyio

from thinkingthoughts.access.principal import Principal
from thinkingthoughts.context.tokens import estimate_tokens
from thinkingthoughts.observability.metrics import TOKENS
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.models import MessageStatus
from thinkingthoughts.upstream.protocol import Usage
from thinkingthoughts.usage.ledger import UsageKey, UsageLedger
from thinkingthoughts.usage.rate_limits import RateLimiter
from thinkingthoughts.usage.stream_slots import HeldSlot
from thinkingthoughts.usage.token_window import Reservation

logger = logging.getLogger(__name__)


class TurnMeter(Protocol):
    @property
    def limits_tokens(self) -> bool:
        """Whether the key has a token window (worth estimating the prompt for)."""

    async def reserve(self, *, prompt_tokens: int, reply_tokens: int) -> None:
        """Before the turn is stored: take what it may use, or refuse it (429)."""

    def observe(self, *, usage: Usage | None, content: str, status: MessageStatus) -> None:
        """The reply ended: what the upstream reported (if anything) and what was relayed."""

    async def close(self) -> None:
        """Settle the turn (at most once; never raises)."""


def settled_usage(
    *, reported: Usage | None, content: str, status: MessageStatus, prompt_estimate: int
) -> Usage:
    """The usage to account for a turn: the upstream's figures when it gave them; else
    the prompt estimate (nothing when the upstream failed before a word) and the
    relayed text's estimate."""
    if reported is not None:
        return reported
    if status == "error" and not content:
        return Usage(prompt_tokens=0, completion_tokens=0)
    completion = estimate_tokens(content) if content else 0
    return Usage(prompt_tokens=prompt_estimate, completion_tokens=completion)


RAW_MODEL_PERSONA = ""
"""The usage rows' persona for turns on a plain upstream model."""


class Metering:
    def __init__(self, ledger: UsageLedger, limiter: RateLimiter) -> None:
        self._ledger = ledger
        self._limiter = limiter

    async def admit(self, principal: Principal, *, estimated_tokens: int) -> KeyMeter:
        """Refuse with 429 a turn whose new messages alone the key's token window cannot
        take (before any work), or whose stream slots are all taken."""
        await self._limiter.check_tokens(principal, estimated_tokens)
        slot = await self._limiter.open_stream(principal)
        return KeyMeter(self._ledger, self._limiter, principal, slot)


class KeyMeter:
    def __init__(
        self,
        ledger: UsageLedger,
        limiter: RateLimiter,
        principal: Principal,
        slot: HeldSlot | None,
    ) -> None:
        self._ledger = ledger
        self._limiter = limiter
        self._principal = principal
        self._slot = slot
        self._persona: str | None = None
        self._model: str | None = None
        self._prompt_estimate = 0
        self._reservation: Reservation | None = None
        self._in_window = 0
        """What this turn holds in the token window (a reservation, once settled)."""
        self._usage: Usage | None = None
        self._closed = False

    @property
    def limits_tokens(self) -> bool:
        return self._limiter.token_limit(self._principal) > 0

    async def reserve(self, *, prompt_tokens: int, reply_tokens: int) -> None:
        """Reserve the turn's tokens, refusing with 429 when they do not fit; once
        reserved, a later call only brings the reservation to the new figures."""
        wanted = prompt_tokens + reply_tokens
        if self._reservation is None:
            self._reservation = await self._limiter.reserve_tokens(self._principal, wanted)
            self._in_window = self._reservation.tokens if self._reservation else 0
        else:
            await self._settle_window(wanted)

    async def begin(
        self, *, persona: str | None, model: str, prompt_estimate: int, reply_tokens: int
    ) -> None:
        """The upstream is about to be called with this prompt: reserve for it (or bring
        the reservation made before the turn was stored to it)."""
        self._persona = persona
        self._model = model
        self._prompt_estimate = prompt_estimate
        await self.reserve(prompt_tokens=prompt_estimate, reply_tokens=reply_tokens)

    def observe(self, *, usage: Usage | None, content: str, status: MessageStatus) -> None:
        self._usage = settled_usage(
            reported=usage, content=content, status=status, prompt_estimate=self._prompt_estimate
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            used = 0
            if self._model is not None:
                usage = self._usage or Usage(prompt_tokens=0, completion_tokens=0)
                used = usage.total_tokens
                await self._account(self._model, usage)
            await self._settle_window(used)
            if self._slot is not None:
                await self._limiter.release_stream(self._slot)

    async def _settle_window(self, tokens: int) -> None:
        """Bring what this turn holds in the token window to `tokens`."""
        if self._reservation is None:
            return
        held = Reservation(self._reservation.key_id, self._reservation.minute, self._in_window)
        self._in_window += await self._limiter.settle_tokens(self._principal, held, tokens)

    async def _account(self, model: str, usage: Usage) -> None:
        where = UsageKey(
            key_id=self._principal.key_id,
            day=utcnow().date(),
            persona=self._persona or RAW_MODEL_PERSONA,
            model=model,
        )
        TOKENS.labels(kind="prompt", persona=where.persona, model=model).inc(usage.prompt_tokens)
        TOKENS.labels(kind="completion", persona=where.persona, model=model).inc(
            usage.completion_tokens
        )
        try:
            await self._ledger.add(
                where, prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens
            )
        except Exception:  # the reply was delivered; its usage is logged, not lost silently
            logger.exception(
                "could not account %d tokens of key %s", usage.total_tokens, where.key_id
            )
