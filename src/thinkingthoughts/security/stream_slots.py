"""Concurrent streams per key: a slot is taken when a reply starts and given back when it
ends. Slots are leases: one a crashed replica never gave back expires on its own.

In Redis a key's slots are one sorted set (member: slot id, score: lease end) and taking
one is a short Lua script, so two replicas can never both take the last slot. The
`limits` library counts events in windows, not things in flight, hence this module.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from limits.errors import StorageError

if TYPE_CHECKING:
    from redis.asyncio import Redis

SLOTS_NAMESPACE = "tt:streams:"

ACQUIRE_SCRIPT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
local ttl_ms = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now_ms + ttl_ms, ARGV[3])
-- The set lives as long as its longest lease: a shorter one never cuts a longer one.
if redis.call('PTTL', KEYS[1]) < ttl_ms then
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
end
return 1
"""


class StreamSlots(Protocol):
    async def acquire(self, key_id: str, slot_id: str, *, limit: int, ttl: float) -> bool:
        """Take a slot unless `limit` are taken; False when full."""

    async def release(self, key_id: str, slot_id: str) -> None: ...


class MemoryStreamSlots:
    """Slots of one process (no REDIS_URL): exact for a single replica."""

    def __init__(self) -> None:
        self._slots: dict[str, dict[str, float]] = {}

    async def acquire(self, key_id: str, slot_id: str, *, limit: int, ttl: float) -> bool:
        now = time.monotonic()
        held = {s: end for s, end in self._slots.get(key_id, {}).items() if end > now}
        if len(held) >= limit:
            self._slots[key_id] = held
            return False
        held[slot_id] = now + ttl
        self._slots[key_id] = held
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

    async def acquire(self, key_id: str, slot_id: str, *, limit: int, ttl: float) -> bool:
        from redis.exceptions import RedisError

        try:
            taken = await self._acquire(
                keys=[SLOTS_NAMESPACE + key_id], args=[limit, int(ttl * 1000), slot_id]
            )
        except RedisError as exc:
            raise StorageError(exc) from exc
        return bool(taken)

    async def release(self, key_id: str, slot_id: str) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.zrem(SLOTS_NAMESPACE + key_id, slot_id)
        except RedisError as exc:
            raise StorageError(exc) from exc
