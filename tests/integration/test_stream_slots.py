"""Stream slots as leases, in process and in Redis, and the limiter's slot handling."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from limits.aio.storage import MemoryStorage
from limits.errors import StorageError
from redis.asyncio import Redis

from thinkingthoughts.access.api_keys import Scope
from thinkingthoughts.access.key_policy import KeyPolicy
from thinkingthoughts.access.principal import Principal
from thinkingthoughts.errors import RateLimitedError, ServiceUnavailableError
from thinkingthoughts.shared_state import open_redis
from thinkingthoughts.usage.rate_limits import KeyLimitDefaults, LimitStores, RateLimiter
from thinkingthoughts.usage.stream_slots import (
    SLOTS_NAMESPACE,
    MemoryStreamSlots,
    RedisStreamSlots,
    StreamSlots,
)
from thinkingthoughts.usage.token_window import MemoryTokenWindows

LEASE = 60.0
SHORT_LEASE = 0.2
EXPIRY_WAIT_SECONDS = 5.0
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
REDIS_TIMEOUTS = {"timeout": 1.0, "connect_timeout": 1.0}


def client_of(url: str) -> Redis:
    return open_redis(url, **REDIS_TIMEOUTS)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def slots(request: pytest.FixtureRequest) -> AsyncIterator[StreamSlots]:
    """Empty slots: in process, then in the test Redis."""
    if request.param == "memory":
        yield MemoryStreamSlots()
        return
    client = client_of(str(request.getfixturevalue("redis_url")))
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
    client = client_of(UNREACHABLE_REDIS)
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


def limiter(
    slots: StreamSlots, *, concurrent_streams: int, fail_open: bool = True, lease: float = LEASE
) -> RateLimiter:
    return RateLimiter(
        LimitStores(MemoryStorage(), MemoryTokenWindows(), slots),
        defaults=KeyLimitDefaults(concurrent_streams=concurrent_streams),
        auth_failures_per_minute=0,
        fail_open=fail_open,
        stream_lease_seconds=lease,
        breaker_open_seconds=60.0,
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
    client = client_of(UNREACHABLE_REDIS)
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


async def redis_now_ms(client: Redis) -> int:
    seconds, micros = await client.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def lease_end_ms(client: Redis, key_id: str, slot_id: str) -> int:
    score = await client.zscore(SLOTS_NAMESPACE + key_id, slot_id)
    assert score is not None, "the slot is not held"
    return int(score)


async def waited_for(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + EXPIRY_WAIT_SECONDS
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


async def slot_taken(limits: RateLimiter, caller: Principal) -> bool:
    try:
        return await limits.open_stream(caller) is not None
    except RateLimitedError:
        return False


@pytest.mark.redis
async def test_a_held_lease_is_renewed_and_lapses_within_one_lease_once_its_holder_is_gone(
    redis_url: str,
) -> None:
    lease = 0.3
    holder_client, other_client = client_of(redis_url), client_of(redis_url)
    holder = limiter(RedisStreamSlots(holder_client), concurrent_streams=1, lease=lease)
    other = limiter(RedisStreamSlots(other_client), concurrent_streams=1, lease=lease)
    caller = principal()
    try:
        slot = await holder.open_stream(caller)
        assert slot is not None
        first_end = await lease_end_ms(holder_client, caller.key_id, slot.slot_id)

        # Past three of its first lengths, the renewed lease still holds the slot.
        async def three_leases_gone() -> bool:
            return await redis_now_ms(other_client) > first_end + 2 * lease * 1000

        await waited_for(three_leases_gone, "three lease lengths went by")
        assert await lease_end_ms(holder_client, caller.key_id, slot.slot_id) > first_end
        assert not await slot_taken(other, caller)

        await holder.close()  # the holder's process is gone: no release, no renewal
        crashed_at = time.monotonic()
        await waited_for(lambda: slot_taken(other, caller), "another replica took the slot")
        assert time.monotonic() - crashed_at < lease + 1.0
    finally:
        await other.close()
        await holder_client.aclose()
        await other_client.aclose()
