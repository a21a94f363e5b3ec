"""Stream slots as leases, in process and in Redis, and the limiter's slot handling."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from limits.aio.storage import MemoryStorage
from limits.errors import StorageError

from thinkingthoughts.errors import RateLimitedError, ServiceUnavailableError
from thinkingthoughts.security.api_keys import Scope
from thinkingthoughts.security.key_policy import KeyPolicy
from thinkingthoughts.security.principal import Principal
from thinkingthoughts.security.rate_limits import KeyLimitDefaults, RateLimiter
from thinkingthoughts.security.stream_slots import (
    MemoryStreamSlots,
    RedisStreamSlots,
    StreamSlots,
)
from thinkingthoughts.shared_state import open_redis

LEASE = 60.0
SHORT_LEASE = 0.2
EXPIRY_WAIT_SECONDS = 5.0
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def slots(request: pytest.FixtureRequest) -> AsyncIterator[StreamSlots]:
    """Empty slots: in process, then in the test Redis."""
    if request.param == "memory":
        yield MemoryStreamSlots()
        return
    client = open_redis(str(request.getfixturevalue("redis_url")))
    try:
        yield RedisStreamSlots(client)
    finally:
        await client.aclose()


@pytest.fixture
def key() -> str:
    """A key id of this test alone (the Redis database may be shared)."""
    return f"key-{uuid.uuid4().hex}"


async def eventually_acquired(slots: StreamSlots, key_id: str, slot_id: str, limit: int) -> None:
    deadline = time.monotonic() + EXPIRY_WAIT_SECONDS
    while not await slots.acquire(key_id, slot_id, limit=limit, ttl=LEASE):
        if time.monotonic() > deadline:
            raise AssertionError("the lease did not expire in time")
        await asyncio.sleep(0.05)


async def test_no_more_slots_than_the_limit_are_taken(slots: StreamSlots, key: str) -> None:
    taken = [await slots.acquire(key, f"s{i}", limit=2, ttl=LEASE) for i in range(3)]
    assert taken == [True, True, False]
    assert await slots.acquire(key + "-other", "s0", limit=2, ttl=LEASE)  # another key's slots


async def test_releasing_a_slot_frees_it_for_the_next_stream(slots: StreamSlots, key: str) -> None:
    assert await slots.acquire(key, "first", limit=1, ttl=LEASE)
    assert not await slots.acquire(key, "second", limit=1, ttl=LEASE)
    await slots.release(key, "first")
    assert await slots.acquire(key, "second", limit=1, ttl=LEASE)
    assert not await slots.acquire(key, "third", limit=1, ttl=LEASE)


async def test_releasing_an_unknown_slot_is_harmless(slots: StreamSlots, key: str) -> None:
    await slots.release(key + "-unknown", "nothing")
    assert await slots.acquire(key, "held", limit=1, ttl=LEASE)
    await slots.release(key, "not-held")
    await slots.release(key, "held")
    await slots.release(key, "held")
    assert await slots.acquire(key, "next", limit=1, ttl=LEASE)
    assert not await slots.acquire(key, "one-more", limit=1, ttl=LEASE)


async def test_a_slot_never_released_expires_with_its_lease(slots: StreamSlots, key: str) -> None:
    assert await slots.acquire(key, "forgotten", limit=1, ttl=SHORT_LEASE)
    await eventually_acquired(slots, key, "next", limit=1)
    assert not await slots.acquire(key, "one-more", limit=1, ttl=LEASE)


async def test_slots_on_an_unreachable_redis_raise_the_limits_storage_error() -> None:
    client = open_redis(UNREACHABLE_REDIS)
    try:
        slots = RedisStreamSlots(client)
        with pytest.raises(StorageError):
            await slots.acquire("key-a", "s0", limit=1, ttl=LEASE)
        with pytest.raises(StorageError):
            await slots.release("key-a", "s0")
    finally:
        await client.aclose()


def principal(key_id: str = "key-a", concurrent_streams: int | None = None) -> Principal:
    return Principal(
        key_id=key_id,
        name="test",
        owner=f"owner-{key_id}",
        scopes=frozenset({Scope.CHAT}),
        policy=KeyPolicy(concurrent_streams=concurrent_streams),
    )


def limiter(slots: StreamSlots, *, concurrent_streams: int, fail_open: bool = True) -> RateLimiter:
    return RateLimiter(
        MemoryStorage(),
        slots,
        defaults=KeyLimitDefaults(concurrent_streams=concurrent_streams),
        auth_failures_per_minute=0,
        fail_open=fail_open,
        stream_lease_seconds=LEASE,
    )


async def test_a_stream_slot_released_twice_gives_back_only_itself() -> None:
    limits = limiter(MemoryStreamSlots(), concurrent_streams=1)
    caller = principal()
    first = await limits.open_stream(caller)
    assert first is not None
    with pytest.raises(RateLimitedError) as refused:
        await limits.open_stream(caller)
    assert "concurrent streams" in refused.value.message
    assert refused.value.headers["X-RateLimit-Limit"] == "1"

    await first.release()
    await first.release()
    second = await limits.open_stream(caller)
    assert second is not None
    await first.release()  # must not give back the slot `second` holds
    with pytest.raises(RateLimitedError):
        await limits.open_stream(caller)
    await second.release()
    assert await limits.open_stream(caller) is not None


async def test_a_keys_own_stream_limit_overrides_the_default() -> None:
    limits = limiter(MemoryStreamSlots(), concurrent_streams=1)
    assert await limits.open_stream(principal("unlimited", concurrent_streams=0)) is None
    two = principal("two", concurrent_streams=2)
    assert await limits.open_stream(two) is not None
    assert await limits.open_stream(two) is not None
    with pytest.raises(RateLimitedError):
        await limits.open_stream(two)
    assert await limiter(MemoryStreamSlots(), concurrent_streams=0).open_stream(principal()) is None


@pytest.mark.parametrize("fail_open", [True, False])
async def test_stream_slots_on_an_unreachable_redis_follow_the_fail_open_setting(
    fail_open: bool,
) -> None:
    client = open_redis(UNREACHABLE_REDIS)
    try:
        limits = limiter(RedisStreamSlots(client), concurrent_streams=1, fail_open=fail_open)
        if fail_open:
            assert await limits.open_stream(principal()) is None
        else:
            with pytest.raises(ServiceUnavailableError) as refused:
                await limits.open_stream(principal())
            assert refused.value.code == "rate_limiter_unavailable"
        assert limits.storage_failures == 1
    finally:
        await client.aclose()


async def test_a_short_lease_never_cuts_a_longer_one(slots: StreamSlots, key: str) -> None:
    assert await slots.acquire(key, "long", limit=2, ttl=60)
    assert await slots.acquire(key, "short", limit=2, ttl=0.2)
    await asyncio.sleep(0.5)  # the short lease is over; the long one holds its slot
    assert await slots.acquire(key, "next", limit=2, ttl=60)
    assert not await slots.acquire(key, "one too many", limit=2, ttl=60)
