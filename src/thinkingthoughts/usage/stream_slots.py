"""Concurrent streams per key: a slot is taken when a reply starts and given back when it
ends. Slots are leases: the holder renews its lease every third of it while the reply
runs, so one a crashed replica never gave back lapses within one lease (30 s by
default), however long replies may run.

In Redis a key's slots are one sorted set (member: slot id, score: lease end) and taking
one is a short Lua script, so two replicas can never both take the last slot. The
`limits` library counts events in windows, not things in flight, hence this module.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from limits.errors import StorageError

from thinkingthoughts.usage.storage_guard import StorageGuard

if TYPE_CHECKING:
    from redis.asyncio import Redis

SLOTS_NAMESPACE = "tt:streams:"
RENEWALS_PER_LEASE = 3
"""A lease is renewed this many times per its length: two renewals may fail in a row
(a Redis blip) before it lapses under a live reply."""

_NOW_MS = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
"""

_LIVE_FOR_LONGEST_LEASE = """
-- The set lives as long as its longest lease: a shorter one never cuts a longer one.
if redis.call('PTTL', KEYS[1]) < ttl_ms then
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
end
"""

ACQUIRE_SCRIPT = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
local ttl_ms = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now_ms + ttl_ms, ARGV[3])
"""
    + _LIVE_FOR_LONGEST_LEASE
    + "return 1\n"
)

RENEW_SCRIPT = (
    _NOW_MS
    + """
local ends = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not ends or tonumber(ends) <= now_ms then
  return 0
end
local ttl_ms = tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], 'XX', now_ms + ttl_ms, ARGV[2])
"""
    + _LIVE_FOR_LONGEST_LEASE
    + "return 1\n"
)


class StreamSlots(Protocol):
    async def acquire(self, key_id: str, slot_id: str, *, limit: int, ttl: float) -> bool:
        """Take a slot unless `limit` are taken; False when full."""

    async def renew(self, key_id: str, slot_id: str, *, ttl: float) -> bool:
        """Extend a held lease to `ttl` from now; False when it has already lapsed."""

    async def release(self, key_id: str, slot_id: str) -> None: ...


class MemoryStreamSlots:
    """Slots of one process (no REDIS_URL): exact for a single replica."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._slots: dict[str, dict[str, float]] = {}

    async def acquire(self, key_id: str, slot_id: str, *, limit: int, ttl: float) -> bool:
        now = self._clock()
        held = {s: end for s, end in self._slots.get(key_id, {}).items() if end > now}
        if len(held) >= limit:
            self._slots[key_id] = held
            return False
        held[slot_id] = now + ttl
        self._slots[key_id] = held
        return True

    async def renew(self, key_id: str, slot_id: str, *, ttl: float) -> bool:
        now = self._clock()
        held = self._slots.get(key_id, {})
        if held.get(slot_id, now) <= now:
            return False
        held[slot_id] = now + ttl
        return True

    async def release(self, key_id: str, slot_id: str) -> None:
        held = self._slots.get(key_id)
        if held is not None:
            held.pop(slot_id, None)
            if not held:
                del self._slots[key_id]


class RedisStreamSlots:
    """Slots every replica sees; Redis errors surface as the `limits` StorageError so
    one fail-open/fail-closed rule covers every limit."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._acquire = redis.register_script(ACQUIRE_SCRIPT)
        self._renew = redis.register_script(RENEW_SCRIPT)

    async def acquire(self, key_id: str, slot_id: str, *, limit: int, ttl: float) -> bool:
        from redis.exceptions import RedisError

        try:
            taken = await self._acquire(
                keys=[SLOTS_NAMESPACE + key_id], args=[limit, _ms(ttl), slot_id]
            )
        except RedisError as exc:
            raise StorageError(exc) from exc
        return bool(taken)

    async def renew(self, key_id: str, slot_id: str, *, ttl: float) -> bool:
        from redis.exceptions import RedisError

        try:
            renewed = await self._renew(keys=[SLOTS_NAMESPACE + key_id], args=[_ms(ttl), slot_id])
        except RedisError as exc:
            raise StorageError(exc) from exc
        return bool(renewed)

    async def release(self, key_id: str, slot_id: str) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.zrem(SLOTS_NAMESPACE + key_id, slot_id)
        except RedisError as exc:
            raise StorageError(exc) from exc


class HeldSlot:
    """A taken slot, renewed in the background until `release()` (which may be called
    more than once) or `abandon()` (the process stops; the lease lapses on its own)."""

    def __init__(self, slots: StreamSlots, guard: StorageGuard, key_id: str, ttl: float) -> None:
        self._slots = slots
        self._guard = guard
        self.key_id = key_id
        self.slot_id = uuid.uuid4().hex
        self._ttl = ttl
        self._renewing: asyncio.Task[None] | None = None
        self._released = False
        self._limit = 0

    async def acquire(self, limit: int) -> bool | None:
        """Take the slot (None: the storage failed open) and start renewing it."""
        self._limit = limit
        taken = await self._guard.run(self._take)
        if taken:
            self._renewing = asyncio.create_task(self._renew_periodically())
        return taken

    async def release(self) -> None:
        """Stop renewing and give the slot back; a storage failure only lets it lapse."""
        if self._released:
            return
        self._released = True
        self.abandon()
        await self._guard.best_effort(lambda: self._slots.release(self.key_id, self.slot_id))

    def abandon(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            self._renewing = None

    def _take(self) -> Awaitable[bool]:
        return self._slots.acquire(self.key_id, self.slot_id, limit=self._limit, ttl=self._ttl)

    async def _renew_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / RENEWALS_PER_LEASE)
            renewed = await self._guard.best_effort(
                lambda: self._slots.renew(self.key_id, self.slot_id, ttl=self._ttl)
            )
            if renewed is False:
                # The lease lapsed (the storage was away for longer than it): take the
                # slot again while there is room; a reply already running is never cut.
                await self._guard.best_effort(self._take)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
