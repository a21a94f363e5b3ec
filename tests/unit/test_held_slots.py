"""A held stream slot outlives a storage outage longer than its lease."""

from __future__ import annotations

import asyncio

from tests.manual_clock import ManualClock
from thinkingthoughts.usage.storage_guard import CircuitBreaker, StorageGuard
from thinkingthoughts.usage.stream_slots import HeldSlot, MemoryStreamSlots

LEASE_SECONDS = 0.03
"""Renewed every 10 ms of real time; the slots' own clock is the manual one."""


class CountedSlots(MemoryStreamSlots):
    """Memory slots that say when a slot has been taken a second time."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.taken = 0
        self.taken_again = asyncio.Event()

    async def acquire(self, key_id: str, slot_id: str, *, limit: int, ttl: float) -> bool:
        taken = await super().acquire(key_id, slot_id, limit=limit, ttl=ttl)
        self.taken += taken
        if self.taken == 2:
            self.taken_again.set()
        return taken


async def _answers() -> bool:
    return True


async def test_a_lease_that_lapsed_while_its_reply_ran_is_taken_again() -> None:
    clock = ManualClock()
    slots = CountedSlots(clock)
    guard = StorageGuard(
        fail_open=True, breaker=CircuitBreaker(open_seconds=5, probe=_answers, clock=clock)
    )
    held = HeldSlot(slots, guard, "key", ttl=LEASE_SECONDS)
    assert await held.acquire(limit=1)

    clock.now += 60  # the storage was away: the lease lapsed under a live reply
    await asyncio.wait_for(slots.taken_again.wait(), timeout=5)

    assert not await slots.acquire("key", "another reply", limit=1, ttl=LEASE_SECONDS)
    await held.release()
    assert await slots.acquire("key", "another reply", limit=1, ttl=LEASE_SECONDS)
