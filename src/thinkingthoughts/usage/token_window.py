"""Tokens per minute per key: a sliding-window counter that takes reservations and
settles them.

A turn reserves what it may use before anything is written (the prompt it will send
and the reply's ceiling) with one atomic check-and-add, so concurrent turns see each
other's reservations and a burst cannot slip past the limit. When the reply ends the
reservation is settled to what the upstream reported: the unused part is given back to
the minute it was taken from, and anything used beyond it is charged to the current
minute (never past the limit: what does not fit fills the window, so the key's next
request waits until it drains).

The window is two one-minute counters, weighted as the `limits` library's sliding
window counter is: all of this minute's count plus the share of the previous minute's
that the window still covers. `limits` has no way to give tokens back, hence this
module. In Redis the counters are `tt:tokens:<key>:<minute>` keys (two minutes' TTL)
and each step is one Lua script on Redis's clock, so every replica sees one window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from limits.errors import StorageError

if TYPE_CHECKING:
    from redis.asyncio import Redis

WINDOW_SECONDS = 60
TOKENS_NAMESPACE = "tt:tokens:"


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """A key's two counters and how far (seconds) the current minute has gone."""

    previous: int
    current: int
    elapsed: float

    def weighted(self) -> int:
        share = self.previous * (WINDOW_SECONDS - self.elapsed) / WINDOW_SECONDS
        return math.floor(share) + self.current

    def fits(self, cost: int, limit: int) -> bool:
        return self.weighted() + cost <= limit


@dataclass(frozen=True, slots=True)
class Reservation:
    """Tokens taken for a turn, and the minute (since the epoch) they were taken in."""

    key_id: str
    minute: int
    tokens: int


def seconds_until_fits(counts: WindowCounts, cost: int, limit: int) -> float:
    """How long until `cost` fits, if nothing else is reserved meanwhile (pure)."""
    room_now = limit - counts.current - cost
    if counts.previous > 0 and room_now >= 0:
        # Within this minute, as the previous minute's weight falls.
        fits_at = WINDOW_SECONDS * (1 - room_now / counts.previous)
        return max(0.0, fits_at - counts.elapsed)
    # Not before the next minute, when this minute's count is the one that falls.
    until_next = WINDOW_SECONDS - counts.elapsed
    room_next = limit - cost
    if counts.current <= room_next:
        return until_next
    return until_next + WINDOW_SECONDS * (1 - room_next / counts.current)


def adjusted_count(count: int, delta: int, limit: int) -> int:
    """A counter after settling `delta`: never below zero, and a charge never lifts
    it past the limit (nor lowers one already past it)."""
    if delta > 0:
        return min(count + delta, max(count, limit))
    return max(0, count + delta)


class TokenWindows(Protocol):
    async def reserve(
        self, key_id: str, tokens: int, *, limit: int, take: bool = True
    ) -> tuple[Reservation | None, WindowCounts]:
        """Take `tokens` when they fit (with `take=False`, only look); the reservation
        (None when they do not fit, or when only looking) and the counts seen."""

    async def settle(self, reservation: Reservation, delta: int, *, limit: int) -> int:
        """Give back (`delta` < 0) to the reservation's minute or charge (`delta` > 0)
        to the current one; what was applied (less than asked at zero or the limit)."""


class MemoryTokenWindows:
    """Windows of one process (no REDIS_URL)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = {}

    async def reserve(
        self, key_id: str, tokens: int, *, limit: int, take: bool = True
    ) -> tuple[Reservation | None, WindowCounts]:
        minute, elapsed = self._now()
        self._forget_before(minute - 1)
        counts = WindowCounts(
            previous=self._counts.get((key_id, minute - 1), 0),
            current=self._counts.get((key_id, minute), 0),
            elapsed=elapsed,
        )
        if not take or not counts.fits(tokens, limit):
            return None, counts
        self._counts[key_id, minute] = counts.current + tokens
        return Reservation(key_id, minute, tokens), counts

    async def settle(self, reservation: Reservation, delta: int, *, limit: int) -> int:
        minute = self._now()[0] if delta > 0 else reservation.minute
        where = (reservation.key_id, minute)
        before = self._counts.get(where, 0)
        count = adjusted_count(before, delta, limit)
        if count or where in self._counts:
            self._counts[where] = count
        return count - before

    def _now(self) -> tuple[int, float]:
        now = self._clock()
        minute = int(now // WINDOW_SECONDS)
        return minute, now - minute * WINDOW_SECONDS

    def _forget_before(self, minute: int) -> None:
        for stale in [k for k in self._counts if k[1] < minute]:
            del self._counts[stale]


_NOW = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window_ms = tonumber(ARGV[3]) * 1000
local minute = math.floor(now_ms / window_ms)
"""

RESERVE_SCRIPT = (
    _NOW
    + """
local elapsed_ms = now_ms - minute * window_ms
local current_key = KEYS[1] .. string.format('%d', minute)
local current = tonumber(redis.call('GET', current_key) or '0')
local previous = tonumber(redis.call('GET', KEYS[1] .. string.format('%d', minute - 1)) or '0')
local cost = tonumber(ARGV[1])
local weighted = math.floor(previous * (window_ms - elapsed_ms) / window_ms) + current
local taken = 0
if ARGV[4] == '1' and weighted + cost <= tonumber(ARGV[2]) then
  redis.call('INCRBY', current_key, cost)
  redis.call('PEXPIRE', current_key, 2 * window_ms)
  taken = 1
end
return {taken, minute, previous, current, elapsed_ms}
"""
)

SETTLE_SCRIPT = (
    _NOW
    + """
local delta = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local key = KEYS[1] .. ARGV[4]
if delta > 0 then
  key = KEYS[1] .. string.format('%d', minute)
end
local count = tonumber(redis.call('GET', key) or '0')
local settled = count + delta
if delta > 0 then
  settled = math.min(settled, math.max(count, limit))
elseif settled < 0 then
  settled = 0
end
if settled ~= count then
  local ttl = redis.call('PTTL', key)
  if ttl <= 0 then
    ttl = 2 * window_ms
  end
  redis.call('SET', key, settled, 'PX', ttl)
end
return settled - count
"""
)


class RedisTokenWindows:
    """Windows every replica sees; Redis errors surface as the `limits` StorageError so
    one fail-open/fail-closed rule covers every limit."""

    def __init__(self, redis: Redis) -> None:
        self._reserve = redis.register_script(RESERVE_SCRIPT)
        self._settle = redis.register_script(SETTLE_SCRIPT)

    async def reserve(
        self, key_id: str, tokens: int, *, limit: int, take: bool = True
    ) -> tuple[Reservation | None, WindowCounts]:
        from redis.exceptions import RedisError

        args: list[int | str] = [tokens, limit, WINDOW_SECONDS, "1" if take else "0"]
        try:
            taken, minute, previous, current, elapsed_ms = await self._reserve(
                keys=[_prefix(key_id)], args=args
            )
        except RedisError as exc:
            raise StorageError(exc) from exc
        counts = WindowCounts(int(previous), int(current), int(elapsed_ms) / 1000)
        reservation = Reservation(key_id, int(minute), tokens) if taken else None
        return reservation, counts

    async def settle(self, reservation: Reservation, delta: int, *, limit: int) -> int:
        from redis.exceptions import RedisError

        args: list[int | str] = [delta, limit, WINDOW_SECONDS, str(reservation.minute)]
        try:
            applied = await self._settle(keys=[_prefix(reservation.key_id)], args=args)
        except RedisError as exc:
            raise StorageError(exc) from exc
        return int(applied)


def _prefix(key_id: str) -> str:
    return f"{TOKENS_NAMESPACE}{key_id}:"
