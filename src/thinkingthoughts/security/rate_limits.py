"""Per-key request limits and a per-address limit on failed authentications.

Counters live in Redis when REDIS_URL is set, so one limit holds across every gateway
replica; otherwise in the process. The `limits` library keeps the moving windows. When
Redis cannot be reached, the operator's setting decides: let requests through (fail
open) or refuse them with 503 (fail closed); never a 500.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from thinkingthoughts.errors import RateLimitedError, UpstreamUnavailableError

logger = logging.getLogger(__name__)

T = TypeVar("T")

KEY_NAMESPACE = "tt-key"
AUTH_FAILURE_NAMESPACE = "tt-auth-failure"


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


class RateLimiter:
    def __init__(
        self,
        storage: Storage,
        *,
        requests_per_minute: int,
        auth_failures_per_minute: int,
        fail_open: bool,
    ) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._requests = _per_minute(requests_per_minute)
        self._auth_failures = _per_minute(auth_failures_per_minute)
        self._fail_open = fail_open
        self.storage_failures = 0

    async def hit_key(self, key_id: str) -> RateLimitStatus | None:
        """Count a request of this key; refuse it with 429 past the key's limit."""
        if self._requests is None:
            return None
        return await self._hit(self._requests, KEY_NAMESPACE, key_id, "requests per minute")

    async def check_address(self, address: str) -> None:
        """Refuse an address that failed to authenticate too often, before it tries again."""
        if self._auth_failures is None:
            return
        stats = await self._guard(
            self._limiter.get_window_stats(self._auth_failures, AUTH_FAILURE_NAMESPACE, address)
        )
        if stats is not None and stats.remaining <= 0:
            raise _refused(self._auth_failures, stats.reset_time, "failed authentications")

    async def count_auth_failure(self, address: str) -> None:
        if self._auth_failures is not None:
            await self._guard(
                self._limiter.hit(self._auth_failures, AUTH_FAILURE_NAMESPACE, address)
            )

    async def close(self) -> None:
        """Close the Redis connections the storage opened (the library has no close)."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()

    async def _hit(
        self, item: RateLimitItem, namespace: str, identity: str, what: str
    ) -> RateLimitStatus | None:
        allowed = await self._guard(self._limiter.hit(item, namespace, identity))
        stats = await self._guard(self._limiter.get_window_stats(item, namespace, identity))
        if allowed is None or stats is None:
            return None
        if not allowed:
            raise _refused(item, stats.reset_time, what)
        return RateLimitStatus(
            limit=item.amount, remaining=stats.remaining, reset_after=stats.reset_time - time.time()
        )

    async def _guard(self, call: Awaitable[T]) -> T | None:
        try:
            return await call
        except StorageError as exc:
            self.storage_failures += 1
            logger.warning("rate-limit storage unreachable: %s", exc)
            if self._fail_open:
                return None
            raise UpstreamUnavailableError(
                "rate limits cannot be checked right now; try again shortly",
                code="rate_limiter_unavailable",
            ) from exc


def _per_minute(amount: int) -> RateLimitItem | None:
    """A limit of `amount` a minute; 0 means no limit."""
    return RateLimitItemPerMinute(amount) if amount > 0 else None


def _refused(item: RateLimitItem, reset_time: float, what: str) -> RateLimitedError:
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
