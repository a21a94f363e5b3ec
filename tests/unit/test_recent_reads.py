"""What a process may reuse of its recent reads, and for how long."""

from __future__ import annotations

from tests.manual_clock import ManualClock
from thinkingthoughts.recent_reads import RecentReads


def test_a_value_is_reused_for_the_period_and_not_a_moment_longer() -> None:
    clock = ManualClock()
    reads: RecentReads[str, int] = RecentReads(2.0, clock=clock)
    reads.remember(reads.start_read(), "k", 1)
    clock.now += 1.99
    assert reads.get("k") == 1
    clock.now += 0.01
    assert reads.get("k") is None


def test_the_period_counts_from_when_the_read_began() -> None:
    clock = ManualClock()
    reads: RecentReads[str, int] = RecentReads(2.0, clock=clock)
    started = reads.start_read()
    clock.now += 1.5  # a slow read
    reads.remember(started, "k", 1)
    clock.now += 0.5
    assert reads.get("k") is None


def test_a_read_under_way_when_forget_is_called_is_not_remembered() -> None:
    reads: RecentReads[str, int] = RecentReads(2.0, clock=ManualClock())
    reads.remember(reads.start_read(), "old", 0)
    started = reads.start_read()
    reads.forget()
    reads.remember(started, "k", 1)
    assert reads.get("k") is None
    assert reads.get("old") is None
    reads.remember(reads.start_read(), "k", 2)
    assert reads.get("k") == 2


def test_update_keeps_the_read_time_and_adds_nothing() -> None:
    clock = ManualClock()
    reads: RecentReads[str, int] = RecentReads(2.0, clock=clock)
    reads.update("absent", 5)
    assert reads.get("absent") is None
    reads.remember(reads.start_read(), "k", 1)
    clock.now += 1.0
    reads.update("k", 2)
    assert reads.get("k") == 2
    clock.now += 1.0
    assert reads.get("k") is None


def test_without_a_period_nothing_is_kept_and_the_oldest_goes_first_when_full() -> None:
    off: RecentReads[str, int] = RecentReads(0.0, clock=ManualClock())
    off.remember(off.start_read(), "k", 1)
    assert off.get("k") is None
    small: RecentReads[str, int] = RecentReads(2.0, clock=ManualClock(), max_entries=2)
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        small.remember(small.start_read(), key, value)
    assert [small.get(k) for k in "abc"] == [None, 2, 3]
