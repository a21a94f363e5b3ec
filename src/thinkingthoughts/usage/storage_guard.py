"""What the limiter does when its storage (Redis) fails: one rule for every limit.

A call that fails lets its request through (fail open) or refuses it with 503 (fail
closed), per TT_RATE_LIMIT_FAIL_OPEN; bookkeeping after a reply (settling tokens,
giving back a stream slot) is best effort and never fails the reply. Either way the
failure opens a circuit breaker: for `open_seconds` no call goes to the storage at all,
so a Redis that hangs costs one timeout, not one per call. When the period is over the
next call starts a single probe in the background and still fails at once; a probe that
answers closes the breaker, one that does not opens it for another period. No request
ever waits for a probe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits.errors import StorageError

from thinkingthoughts.errors import ServiceUnavailableError
from thinkingthoughts.observability.metrics import LIMITER_STORAGE_ERRORS

logger = logging.getLogger(__name__)

T = TypeVar("T")

Clock = Callable[[], float]
Probe = Callable[[], Awaitable[bool]]


class CircuitBreaker:
    """Closed until a failure; then open (calls skip the storage) for `open_seconds`,
    after which one background probe decides whether it closes again.

    Invariant: at most one probe runs at a time, and `allows()` never waits.
    """

    def __init__(self, *, open_seconds: float, probe: Probe, clock: Clock = time.monotonic):
        self._open_seconds = open_seconds
        self._probe = probe
        self._clock = clock
        self._open_until: float | None = None
        self._probing: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def allows(self) -> bool:
        """Whether a call may go to the storage now."""
        if self._open_until is None:
            return True
        if self._clock() >= self._open_until and self._probing is None:
            self._probing = asyncio.create_task(self._probe_once())
        return False

    def record_failure(self) -> None:
        self._open_until = self._clock() + self._open_seconds

    def record_success(self) -> None:
        self._open_until = None

    async def close(self) -> None:
        if self._probing is not None:
            self._probing.cancel()
            await asyncio.gather(self._probing, return_exceptions=True)

    async def _probe_once(self) -> None:
        try:
            answered = await self._probe()
        except Exception:  # a probe that fails in any way says the same: not yet
            answered = False
        finally:
            self._probing = None
        if answered:
            logger.info("rate-limit storage answers again")
            self.record_success()
        else:
            self.record_failure()


class StorageGuard:
    """Runs limiter calls through the breaker; when the storage fails (or the breaker is
    open), lets the request through (fail open) or refuses it with 503 (fail closed),
    and counts it either way."""

    def __init__(self, *, fail_open: bool, breaker: CircuitBreaker) -> None:
        self._fail_open = fail_open
        self._breaker = breaker
        self.failures = 0

    async def run(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """The call's answer; None when the storage failed and the setting fails open."""
        failure = await self._attempt(call)
        if not isinstance(failure, _Failed):
            return failure
        outcome = "allowed" if self._fail_open else "refused"
        self._count(outcome, failure)
        if self._fail_open:
            return None
        raise ServiceUnavailableError(
            "rate limits cannot be checked right now; try again shortly",
            code="rate_limiter_unavailable",
        )

    async def best_effort(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """Bookkeeping after a reply: the call's answer, or None when the storage failed
        (counted and logged, never raised)."""
        answer = await self._attempt(call)
        if isinstance(answer, _Failed):
            self._count("skipped", answer)
            return None
        return answer

    async def close(self) -> None:
        await self._breaker.close()

    async def _attempt(self, call: Callable[[], Awaitable[T]]) -> T | _Failed:
        if not self._breaker.allows():
            return _Failed("the storage failed moments ago (breaker open)")
        try:
            answer = await call()
        except StorageError as exc:
            self._breaker.record_failure()
            # Logged when the breaker opens, not for each call it then skips.
            logger.warning("rate-limit storage unreachable; not used for a while: %s", exc)
            return _Failed(str(exc))
        self._breaker.record_success()
        return answer

    def _count(self, outcome: str, failure: _Failed) -> None:
        self.failures += 1
        LIMITER_STORAGE_ERRORS.labels(outcome=outcome).inc()
        logger.debug("rate-limit storage call skipped (%s): %s", outcome, failure.reason)


class _Failed:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason
