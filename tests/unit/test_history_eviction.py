"""Chunked, stateless history eviction: the window always fits, and each turn's window
extends the previous one except when the conversation crosses into a new chunk."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import accumulate, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thinkingthoughts.context.eviction import (
    HistoryWindow,
    evicted_path_tokens,
    history_window,
    low_water_mark,
    window_length,
)

Message = tuple[int, int]
"""(path_tokens, tokens) of one message."""


def conversation(sizes: list[int]) -> list[Message]:
    """Messages of these sizes along one path, oldest first."""
    return list(zip(accumulate(sizes), sizes, strict=True))


def window_of(messages: list[Message], room: int, low_water: int | None = None) -> list[Message]:
    """The window, oldest first."""
    newest_first = history_window(
        reversed(messages),
        path_tokens=lambda m: m[0],
        tokens=lambda m: m[1],
        room=room,
        low_water=low_water,
    )
    return newest_first[::-1]


@pytest.mark.parametrize(
    ("newest", "room", "low_water", "evicted"),
    [
        (0, 100, 50, 0),
        (100, 100, 50, 0),  # exactly full: nothing goes
        (101, 100, 50, 50),  # one token over: a whole chunk goes
        (150, 100, 50, 50),
        (151, 100, 50, 100),
        (1000, 100, 50, 900),
        (101, 100, 0, 100),  # no low-water mark: the chunk is the whole room
        (101, 100, 100, 1),  # low water at the room: the chunk is one token
        (105, 100, 150, 5),
    ],
)
def test_evicted_prefix_is_the_smallest_whole_number_of_chunks_that_fits(
    newest: int, room: int, low_water: int, evicted: int
) -> None:
    assert evicted_path_tokens(newest_path_tokens=newest, room=room, low_water=low_water) == (
        evicted
    )


def test_low_water_mark_is_half_the_room() -> None:
    assert low_water_mark(100) == 50
    assert low_water_mark(0) == 0


@pytest.mark.parametrize(
    ("sizes", "room", "kept_sizes"),
    [
        ([10, 10, 10], 100, [10, 10, 10]),  # everything fits
        ([], 100, []),
        ([60, 30, 20], 100, [30, 20]),  # T=110: D=50, the 60 starts at 0 < 50
        ([60, 30, 20, 10], 100, [30, 20, 10]),  # T=120: still D=50, window extended
        ([60, 30, 20, 10, 35], 100, [10, 35]),  # T=155: D=100, the 10 starts at 110
        ([60, 30, 20, 10, 20], 100, [30, 20, 10, 20]),  # T=140: D=50 still
        ([500], 100, [500]),  # the newest message always goes
        ([10, 500], 100, [500]),
    ],
)
def test_window_keeps_the_messages_starting_after_the_evicted_prefix(
    sizes: list[int], room: int, kept_sizes: list[int]
) -> None:
    assert [size for _, size in window_of(conversation(sizes), room)] == kept_sizes


def test_starts_are_read_from_the_parents_path_tokens_not_todays_estimate() -> None:
    # Stored sizes of 1 a message, estimated at 6 today: nothing is evicted (T=5).
    messages = [(n, 6) for n in range(1, 6)]
    assert window_of(messages, room=100) == messages


def test_window_also_stops_where_todays_estimate_would_overflow() -> None:
    # Stored path tokens grew by 10 a message; today's estimate says 60 each. T=220,
    # D=150: both newest start inside by their path tokens, but only one fits.
    messages = [(200, 10), (210, 60), (220, 60)]
    assert window_of(messages, room=100) == [(220, 60)]


def test_a_message_starting_exactly_at_the_evicted_prefix_stays() -> None:
    window = HistoryWindow.for_newest(110, room=100, low_water=50)
    assert window.start == 50
    assert window.starts_inside(parent_path_tokens=50)
    assert not window.starts_inside(parent_path_tokens=49)


def test_reading_stops_at_the_first_message_before_the_window() -> None:
    read: list[Message] = []

    def newest_first() -> Iterator[Message]:
        for message in reversed(conversation([40] * 100)):
            read.append(message)
            yield message

    kept = history_window(
        newest_first(),
        path_tokens=lambda m: m[0],
        tokens=lambda m: m[1],
        room=200,
    )
    # The first one left out, and its parent, which tells where it starts.
    assert len(read) == len(kept) + 2


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=200),
    room=st.integers(min_value=120, max_value=2000),
    low_share=st.floats(min_value=0.0, max_value=0.9),
)
def test_windows_fit_and_extend_each_other_between_chunk_boundaries(
    sizes: list[int], room: int, low_share: float
) -> None:
    low_water = int(room * low_share)
    messages = conversation(sizes)
    previous: list[Message] | None = None
    previous_start = 0
    for turn in range(1, len(messages) + 1):
        seen = messages[:turn]
        window = window_of(seen, room, low_water)
        start = HistoryWindow.for_newest(seen[-1][0], room=room, low_water=low_water).start
        # It fits, it is a contiguous tail, and it ends with the newest message.
        assert sum(size for _, size in window) <= room
        assert window == seen[len(seen) - len(window) :]
        assert window
        if previous is not None and previous[0][0] - previous[0][1] >= previous_start:
            # (A newest message that starts before the window goes all the same, alone;
            # it is left out again next turn.)
            if start == previous_start:
                assert window[: len(previous)] == previous
            else:
                assert start > previous_start
        if start > 0:
            # After an eviction, more than the low-water mark is kept, but for the message
            # straddling the cut.
            assert sum(size for _, size in window) > low_water - max(sizes)
        previous, previous_start = window, start


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(min_value=5, max_value=60),
    room=st.integers(min_value=600, max_value=4000),
)
def test_steady_conversations_break_the_prefix_once_per_chunk(size: int, room: int) -> None:
    messages = conversation([size] * 400)
    windows = [window_of(messages[:turn], room) for turn in range(1, 401)]
    breaks = sum(1 for before, after in pairwise(windows) if after[: len(before)] != before)
    chunk = room - low_water_mark(room)
    overflow = max(size * 400 - room, 0)
    assert breaks <= -(-overflow // chunk)


@pytest.mark.parametrize(
    ("sizes", "room", "length"),
    [
        ([], 100, 0),
        ([10, 10, 10], 100, 3),
        ([60, 30, 20, 10, 35], 100, 2),
        ([500], 100, 1),
    ],
)
def test_a_conversation_held_whole_gets_the_same_window(
    sizes: list[int], room: int, length: int
) -> None:
    assert window_length(sizes, room=room) == length
    assert len(window_of(conversation(sizes), room)) == length
