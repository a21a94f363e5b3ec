"""Per-key limits (requests and tokens per minute, concurrent streams) and a per-address
limit on failed authentications.

Counters live in Redis when REDIS_URL is set, so one limit holds across every gateway
replica; otherwise in the process. The `limits` library keeps the request windows (a
moving window, exact); `token_window` keeps the token windows (reservations settled to
the upstream's usage) and `stream_slots` the leases of replies in progress. When Redis
fails, `storage_guard` decides once for all of them: let requests through (fail open)
or refuse them with 503 (fail closed), never a 500, and skip Redis for a while.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from thinkingthoughts.access.key_policy import effective_limit
from thinkingthoughts.access.principal import Principal
from thinkingthoughts.errors import RateLimitedError
from thinkingthoughts.observability.metrics import RATE_LIMITED
from thinkingthoughts.usage.storage_guard import CircuitBreaker, StorageGuard
from thinkingthoughts.usage.stream_slots import (
    HeldSlot,
    MemoryStreamSlots,
    RedisStreamSlots,
    StreamSlots,
)
from thinkingthoughts.usage.token_window import (
    MemoryTokenWindows,
    RedisTokenWindows,
    Reservation,
    TokenWindows,
    seconds_until_fits,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

KEY_NAMESPACE = "tt-key"
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


@dataclass(frozen=True, slots=True)
class LimitStores:
    """Where the limiter keeps its counts: request windows (`limits`), token windows
    and stream slots; all in Redis or all in the process."""

    requests: Storage
    tokens: TokenWindows
    slots: StreamSlots


class RateLimiter:
    def __init__(
        self,
        stores: LimitStores,
        *,
        defaults: KeyLimitDefaults,
        auth_failures_per_minute: int,
        fail_open: bool,
        stream_lease_seconds: float,
        breaker_open_seconds: float,
    ) -> None:
        self._stores = stores
        self._requests = MovingWindowRateLimiter(stores.requests)
        self._defaults = defaults
        self._auth_failures = _per_minute(auth_failures_per_minute)
        breaker = CircuitBreaker(open_seconds=breaker_open_seconds, probe=stores.requests.check)
        self._guard = StorageGuard(fail_open=fail_open, breaker=breaker)
        self._stream_lease = stream_lease_seconds
        self._held: set[HeldSlot] = set()

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
        allowed = await self._guard.run(lambda: self._requests.hit(item, KEY_NAMESPACE, identity))
        if allowed is None:  # the storage failed open: no second try for the headers
            return None
        stats = await self._guard.run(
            lambda: self._requests.get_window_stats(item, KEY_NAMESPACE, identity)
        )
        if stats is None:
            return None
        if not allowed:
            raise _refused(item, stats.reset_time - time.time(), "requests per minute", "requests")
        return RateLimitStatus(
            limit=item.amount, remaining=stats.remaining, reset_after=stats.reset_time - time.time()
        )

    def token_limit(self, principal: Principal) -> int:
        """The key's tokens per minute; 0 means no limit."""
        return effective_limit(principal.policy.tokens_per_minute, self._defaults.tokens_per_minute)

    async def check_tokens(self, principal: Principal, tokens: int) -> None:
        """Refuse with 429 when the key's token window cannot take `tokens` more; takes
        nothing (a cheap early refusal before a turn's prompt is known)."""
        await self._reserve(principal, tokens, take=False)

    async def reserve_tokens(self, principal: Principal, tokens: int) -> Reservation | None:
        """Take `tokens` from the key's window, or refuse with 429 when they do not fit.
        None when the key has no token limit (or the storage failed open). A turn larger
        than the whole window is let into an empty one."""
        return await self._reserve(principal, tokens, take=True)

    async def settle_tokens(self, principal: Principal, reservation: Reservation, used: int) -> int:
        """Bring a reservation to what was used; best effort, never refuses. The tokens
        the window actually gained (negative: gave back)."""
        delta = used - reservation.tokens
        limit = self.token_limit(principal)
        if not delta or limit <= 0:
            return 0
        applied = await self._guard.best_effort(
            lambda: self._stores.tokens.settle(reservation, delta, limit=limit)
        )
        return applied or 0

    async def open_stream(self, principal: Principal) -> HeldSlot | None:
        """Take one of the key's concurrent-stream slots, or refuse with 429 when all are
        taken. None when the key has no such limit (or the storage failed open)."""
        limit = effective_limit(
            principal.policy.concurrent_streams, self._defaults.concurrent_streams
        )
        if limit <= 0:
            return None
        slot = HeldSlot(self._stores.slots, self._guard, principal.key_id, self._stream_lease)
        taken = await slot.acquire(limit)
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
        self._held.add(slot)
        return slot

    async def release_stream(self, slot: HeldSlot) -> None:
        self._held.discard(slot)
        await slot.release()

    async def check_address(self, address: str) -> None:
        """Refuse an address that failed to authenticate too often, before it tries again."""
        item = self._auth_failures
        if item is None:
            return
        stats = await self._guard.run(
            lambda: self._requests.get_window_stats(item, AUTH_FAILURE_NAMESPACE, address)
        )
        if stats is not None and stats.remaining <= 0:
            raise _refused(
                item, stats.reset_time - time.time(), "failed authentications", "auth_failures"
            )

    async def count_auth_failure(self, address: str) -> None:
        item = self._auth_failures
        if item is not None:
            await self._guard.run(lambda: self._requests.hit(item, AUTH_FAILURE_NAMESPACE, address))

    async def close(self) -> None:
        """Stop renewing the leases still held (they lapse on their own, as after a
        crash) and any probe of the storage."""
        for slot in self._held:
            slot.abandon()
        self._held.clear()
        await self._guard.close()

    async def _reserve(
        self, principal: Principal, tokens: int, *, take: bool
    ) -> Reservation | None:
        limit = self.token_limit(principal)
        if limit <= 0:
            return None
        cost = max(1, min(tokens, limit))
        seen = await self._guard.run(
            lambda: self._stores.tokens.reserve(principal.key_id, cost, limit=limit, take=take)
        )
        if seen is None:
            return None
        reservation, counts = seen
        if reservation is None and not counts.fits(cost, limit):
            wait = seconds_until_fits(counts, cost, limit)
            raise _refused(RateLimitItemPerMinute(limit), wait, "tokens per minute", "tokens")
        return reservation


def _per_minute(amount: int) -> RateLimitItem | None:
    """A limit of `amount` a minute; 0 means no limit."""
    return RateLimitItemPerMinute(amount) if amount > 0 else None


def _refused(item: RateLimitItem, wait: float, what: str, limit: str) -> RateLimitedError:
    RATE_LIMITED.labels(limit=limit).inc()
    retry_after = max(1.0, wait)
    return RateLimitedError(
        f"limit of {item.amount} {what} reached; retry in {math.ceil(retry_after)} s",
        retry_after=retry_after,
        headers=RateLimitStatus(item.amount, 0, retry_after).headers(),
    )


def open_limit_stores(redis: Redis | None) -> LimitStores:
    """Every count in Redis, over the one client (and its short timeouts) the gateway
    opened, or every count in the process."""
    if redis is None:
        return LimitStores(MemoryStorage(), MemoryTokenWindows(), MemoryStreamSlots())
    requests = RedisStorage(
        "async+redis://",
        implementation="redispy",
        wrap_exceptions=True,
        key_prefix="tt",
        connection_pool=redis.connection_pool,  # type: ignore[arg-type]  # passed on to redis
    )
    return LimitStores(requests, RedisTokenWindows(redis), RedisStreamSlots(redis))
