"""The token window's pure rules, and reservations settled in the right minute."""

from __future__ import annotations

import pytest

from tests.manual_clock import ManualClock
from thinkingthoughts.usage.token_window import (
    MemoryTokenWindows,
    WindowCounts,
    adjusted_count,
    seconds_until_fits,
)

LIMIT = 100


@pytest.mark.parametrize(
    ("counts", "weighted"),
    [
        (WindowCounts(previous=0, current=40, elapsed=10), 40),
        (WindowCounts(previous=60, current=0, elapsed=30), 30),  # half the previous minute
        (WindowCounts(previous=60, current=10, elapsed=59), 11),
    ],
)
def test_the_window_weighs_the_previous_minute_by_what_it_still_covers(
    counts: WindowCounts, weighted: int
) -> None:
    assert counts.weighted() == weighted


@pytest.mark.parametrize(
    ("counts", "cost", "wait"),
    [
        (WindowCounts(previous=100, current=0, elapsed=0), 50, 30.0),  # as the past fades
        (WindowCounts(previous=0, current=100, elapsed=15), 50, 45.0 + 30.0),  # next minute
        (WindowCounts(previous=0, current=50, elapsed=15), 50, 45.0),
        (WindowCounts(previous=0, current=100, elapsed=0), 100, 120.0),  # the longest wait
    ],
)
def test_a_refused_turn_is_told_when_it_fits(counts: WindowCounts, cost: int, wait: float) -> None:
    assert seconds_until_fits(counts, cost, LIMIT) == pytest.approx(wait)


@pytest.mark.parametrize(
    ("count", "delta", "settled"),
    [
        (80, -30, 50),
        (20, -30, 0),  # never below zero
        (80, 30, 100),  # a charge fills the window, no further
        (120, 30, 120),  # nor lifts one already past it
        (120, -30, 90),
    ],
)
def test_settling_keeps_a_counter_between_zero_and_the_limit(
    count: int, delta: int, settled: int
) -> None:
    assert adjusted_count(count, delta, LIMIT) == settled


async def test_a_reservation_is_refunded_to_its_minute_and_overuse_charged_to_the_current() -> None:
    clock = ManualClock(start=600.0)  # the start of a minute
    windows = MemoryTokenWindows(clock)
    reservation, _ = await windows.reserve("key", 80, limit=LIMIT)
    assert reservation is not None
    refused, seen = await windows.reserve("key", 30, limit=LIMIT)
    assert refused is None
    assert seen.weighted() == 80

    clock.now += 60  # the next minute: the reservation is the previous minute's count
    assert await windows.settle(reservation, -60, limit=LIMIT) == -60
    _, seen = await windows.reserve("key", 1, limit=LIMIT, take=False)
    assert (seen.previous, seen.current) == (20, 0)

    assert await windows.settle(reservation, 30, limit=LIMIT) == 30
    _, seen = await windows.reserve("key", 1, limit=LIMIT, take=False)
    assert (seen.previous, seen.current) == (20, 30)
