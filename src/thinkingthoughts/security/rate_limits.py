"""Per-key limits (requests and tokens per minute, concurrent streams) and a per-address
limit on failed authentications.

Counters live in Redis when REDIS_URL is set, so one limit holds across every gateway
replica; otherwise in the process. The `limits` library keeps the windows: a moving
window for requests (exact), a sliding-window counter for tokens (two counters, however
many tokens). When Redis cannot be reached, the operator's setting decides: let requests
through (fail open) or refuse them with 503 (fail closed); never a 500.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from thinkingthoughts.errors import RateLimitedError, ServiceUnavailableError
from thinkingthoughts.observability.metrics import LIMITER_STORAGE_ERRORS, RATE_LIMITED
from thinkingthoughts.security.key_policy import effective_limit
from thinkingthoughts.security.principal import Principal
from thinkingthoughts.security.stream_slots import StreamSlots

logger = logging.getLogger(__name__)

T = TypeVar("T")

KEY_NAMESPACE = "tt-key"
TOKENS_NAMESPACE = "tt-tokens"
AUTH_FAILURE_NAMESPACE = "tt-auth-failure"
STREAM_RETRY_AFTER = 1.0
"""What a refused stream is told to wait: slots free when replies end, not on a clock."""


@dataclass(frozen=True, slots=True)
class KeyLimitDefaults:
    """The limits of a key that sets none of its own; 0 means no limit."""

    requests_per_minute: int = 0
    tokens_per_minute: int = 0
    concurrent_streams: int = 0


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """What `X-RateLimit-*` headers say after a request was let through."""

    limit: int
    remaining: int
    reset_after: float

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(max(0, math.ceil(self.reset_after))),
        }


class StorageGuard:
    """Runs a limiter call; when its storage is unreachable, lets the request through
    (fail open) or refuses it with 503 (fail closed), and counts it either way."""

    def __init__(self, *, fail_open: bool) -> None:
        self._fail_open = fail_open
        self.failures = 0

    async def run(self, call: Awaitable[T]) -> T | None:
        try:
            return await call
        except StorageError as exc:
            self.failures += 1
            outcome = "allowed" if self._fail_open else "refused"
            LIMITER_STORAGE_ERRORS.labels(outcome=outcome).inc()
            logger.warning("rate-limit storage unreachable (%s): %s", outcome, exc)
            if self._fail_open:
                return None
            raise ServiceUnavailableError(
                "rate limits cannot be checked right now; try again shortly",
                code="rate_limiter_unavailable",
            ) from exc


class StreamSlot:
    """A taken stream slot; `release()` gives it back and may be called more than once."""

    def __init__(self, slots: StreamSlots, guard: StorageGuard, key_id: str) -> None:
        self._slots = slots
        self._guard = guard
        self.key_id = key_id
        self.slot_id = uuid.uuid4().hex
        self._released = False

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        await self._guard.run(self._slots.release(self.key_id, self.slot_id))


class RateLimiter:
    def __init__(
        self,
        storage: Storage,
        slots: StreamSlots,
        *,
        defaults: KeyLimitDefaults,
        auth_failures_per_minute: int,
        fail_open: bool,
        stream_lease_seconds: float,
    ) -> None:
        self._storage = storage
        self._slots = slots
        self._requests = MovingWindowRateLimiter(storage)
        self._tokens = SlidingWindowCounterRateLimiter(storage)
        self._defaults = defaults
        self._auth_failures = _per_minute(auth_failures_per_minute)
        self._guard = StorageGuard(fail_open=fail_open)
        self._stream_lease = stream_lease_seconds

    @property
    def storage_failures(self) -> int:
        return self._guard.failures

    async def hit_key(self, principal: Principal) -> RateLimitStatus | None:
        """Count a request of this key; refuse it with 429 past the key's limit."""
        item = _per_minute(
            effective_limit(
                principal.policy.requests_per_minute, self._defaults.requests_per_minute
            )
        )
        if item is None:
            return None
        identity = principal.key_id
        allowed = await self._guard.run(self._requests.hit(item, KEY_NAMESPACE, identity))
        if allowed is None:  # the storage failed open: no second try for the headers
            return None
        stats = await self._guard.run(
            self._requests.get_window_stats(item, KEY_NAMESPACE, identity)
        )
        if stats is None:
            return None
        if not allowed:
            raise _refused(item, stats.reset_time, "requests per minute", "requests")
        return RateLimitStatus(
            limit=item.amount, remaining=stats.remaining, reset_after=stats.reset_time - time.time()
        )

    async def check_tokens(self, principal: Principal, tokens: int) -> None:
        """Refuse with 429 when the key's token window cannot take `tokens` more."""
        item = self._token_item(principal)
        if item is None:
            return
        cost = max(1, min(tokens, item.amount))
        fits = await self._guard.run(
            self._tokens.test(item, TOKENS_NAMESPACE, principal.key_id, cost=cost)
        )
        if fits is False:
            stats = await self._guard.run(
                self._tokens.get_window_stats(item, TOKENS_NAMESPACE, principal.key_id)
            )
            reset_time = stats.reset_time if stats is not None else time.time() + 60
            raise _refused(item, reset_time, "tokens per minute", "tokens")

    async def charge_tokens(self, principal: Principal, tokens: int) -> None:
        """Count tokens the key used; never refuses. What does not fit fills the window,
        so the key's next request waits until it drains."""
        item = self._token_item(principal)
        if item is None or tokens <= 0:
            return
        identity = principal.key_id
        cost = min(tokens, item.amount)
        if await self._guard.run(self._tokens.hit(item, TOKENS_NAMESPACE, identity, cost=cost)):
            return
        stats = await self._guard.run(
            self._tokens.get_window_stats(item, TOKENS_NAMESPACE, identity)
        )
        if stats is not None and stats.remaining > 0:
            await self._guard.run(
                self._tokens.hit(item, TOKENS_NAMESPACE, identity, cost=stats.remaining)
            )

    async def open_stream(self, principal: Principal) -> StreamSlot | None:
        """Take one of the key's concurrent-stream slots, or refuse with 429 when all are
        taken. None when the key has no such limit (or the storage failed open)."""
        limit = effective_limit(
            principal.policy.concurrent_streams, self._defaults.concurrent_streams
        )
        if limit <= 0:
            return None
        slot = StreamSlot(self._slots, self._guard, principal.key_id)
        taken = await self._guard.run(
            self._slots.acquire(slot.key_id, slot.slot_id, limit=limit, ttl=self._stream_lease)
        )
        if taken is None:
            return None
        if not taken:
            RATE_LIMITED.labels(limit="streams").inc()
            raise RateLimitedError(
                f"limit of {limit} concurrent streams (replies in progress) reached; "
                "retry when one ends",
                retry_after=STREAM_RETRY_AFTER,
                headers=RateLimitStatus(limit, 0, STREAM_RETRY_AFTER).headers(),
            )
        return slot

    async def check_address(self, address: str) -> None:
        """Refuse an address that failed to authenticate too often, before it tries again."""
        if self._auth_failures is None:
            return
        stats = await self._guard.run(
            self._requests.get_window_stats(self._auth_failures, AUTH_FAILURE_NAMESPACE, address)
        )
        if stats is not None and stats.remaining <= 0:
            raise _refused(
                self._auth_failures, stats.reset_time, "failed authentications", "auth_failures"
            )

    async def count_auth_failure(self, address: str) -> None:
        if self._auth_failures is not None:
            await self._guard.run(
                self._requests.hit(self._auth_failures, AUTH_FAILURE_NAMESPACE, address)
            )

    async def close(self) -> None:
        """Close the Redis connections the storage opened (the library has no close)."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()

    def _token_item(self, principal: Principal) -> RateLimitItem | None:
        return _per_minute(
            effective_limit(principal.policy.tokens_per_minute, self._defaults.tokens_per_minute)
        )


def _per_minute(amount: int) -> RateLimitItem | None:
    """A limit of `amount` a minute; 0 means no limit."""
    return RateLimitItemPerMinute(amount) if amount > 0 else None


def _refused(item: RateLimitItem, reset_time: float, what: str, limit: str) -> RateLimitedError:
    RATE_LIMITED.labels(limit=limit).inc()
    retry_after = max(1.0, reset_time - time.time())
    return RateLimitedError(
        f"limit of {item.amount} {what} reached; retry in {math.ceil(retry_after)} s",
        retry_after=retry_after,
        headers=RateLimitStatus(item.amount, 0, retry_after).headers(),
    )


def open_limit_storage(redis_url: str | None) -> Storage:
    if redis_url is None:
        return MemoryStorage()
    return RedisStorage(
        "async+" + redis_url, implementation="redispy", wrap_exceptions=True, key_prefix="tt"
    )
