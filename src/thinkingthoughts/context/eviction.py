"""Which history goes upstream once it no longer fits: eviction in chunks, pure and stateless.

Taking the newest messages that fit moves the window's start by one turn every turn once
the conversation outgrows the room, so no two prompts share their history and an
inference server's prefix cache (vLLM's) recomputes all of it each turn. Here the start
moves in chunks instead, and between two moves every prompt extends the previous one.

The rule reads nothing but the messages themselves, so every replica that sees the same
conversation sends the same window, and nothing is stored for it:

- Every message carries `path_tokens`: the estimated tokens of the path from the root of
  the conversation through that message (cumulative; see `estimate_message_tokens`). A
  message ends at its `path_tokens` and starts where its parent ends (0 for a root), so
  the window depends on the stored sizes only, not on how sizes are estimated today.
- `room` is what the history may take (the budget less the fixed slots), and
  `low_water` (by default LOW_WATER_SHARE of it) how much history is left at least after
  an eviction. The chunk is `room - low_water`.
- With T the newest message's `path_tokens`, the evicted prefix D is the smallest
  multiple of the chunk such that `T - D <= room` (0 while everything fits).
- The window is every message that starts at or after D. Its size is at most T - D, so it
  fits; D stays put while T grows within one chunk, so the window only gains messages at
  its end; when T crosses into the next chunk, D moves forward by a whole chunk and the
  window shrinks to just above `low_water` (less the message that straddles D).
- Read newest first, the window ends at the first message whose parent ends before D.

Two guards: the window also stops where today's estimate of its size would exceed the
room (stored sizes may come from an older estimator), and the newest message always goes
(whether it fits is checked exactly elsewhere; a newest message bigger than the low-water
mark may start before D, and then goes alone, and is left out again the next turn).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import TypeVar

LOW_WATER_SHARE = 0.5
"""The share of the room that history keeps after an eviction: half the room is kept, and
the other half is the chunk that the conversation grows into before the next eviction."""

T = TypeVar("T")


def low_water_mark(room: int) -> int:
    return int(room * LOW_WATER_SHARE)


def evicted_path_tokens(*, newest_path_tokens: int, room: int, low_water: int) -> int:
    """D: the path tokens left out, a multiple of the chunk (`room - low_water`, at least
    one token), the smallest one that leaves at most `room` tokens of history."""
    overflow = newest_path_tokens - room
    if overflow <= 0:
        return 0
    chunk = max(room - low_water, 1)
    return -(-overflow // chunk) * chunk


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    """The window of one turn, as decided by its newest message's `path_tokens`."""

    start: int
    """D: messages starting before this many path tokens are left out."""
    room: int

    @classmethod
    def for_newest(
        cls, newest_path_tokens: int, *, room: int, low_water: int | None = None
    ) -> HistoryWindow:
        low = low_water_mark(room) if low_water is None else low_water
        start = evicted_path_tokens(newest_path_tokens=newest_path_tokens, room=room, low_water=low)
        return cls(start=start, room=room)

    def starts_inside(self, *, parent_path_tokens: int) -> bool:
        """Whether a message starts inside the window: where its parent ends (0 for a
        root). Path order makes it monotone: once false, false for every older message."""
        return parent_path_tokens >= self.start


def history_window(
    newest_first: Iterable[T],
    *,
    path_tokens: Callable[[T], int],
    tokens: Callable[[T], int],
    room: int,
    low_water: int | None = None,
) -> list[T]:
    """The messages of the window, newest first, from messages given newest first along
    one path (each the parent of the one before it, or an ancestor when messages that
    are never sent were left out, which only makes the window start later).

    Reading stops at the first message that ends before the window: the one after it
    (its child) started outside the window too.
    """
    rows = iter(newest_first)
    newest = next(rows, None)
    if newest is None:
        return []
    window = HistoryWindow.for_newest(path_tokens(newest), room=room, low_water=low_water)
    kept = [newest]
    used = tokens(newest)
    candidate = next(rows, None)
    while candidate is not None:
        parent = next(rows, None)
        starts_at = path_tokens(parent) if parent is not None else 0
        size = tokens(candidate)
        if not window.starts_inside(parent_path_tokens=starts_at) or used + size > room:
            break
        kept.append(candidate)
        used += size
        candidate = parent
    return kept


def window_length(sizes: Sequence[int], *, room: int, low_water: int | None = None) -> int:
    """How many of the last messages of a conversation held whole (`sizes` oldest first,
    as a client that keeps its own history sends it) form its window: the same rule, the
    running sums of the sizes as path tokens."""
    ends = list(accumulate(sizes))
    kept = history_window(
        reversed(range(len(sizes))),
        path_tokens=ends.__getitem__,
        tokens=sizes.__getitem__,
        room=room,
        low_water=low_water,
    )
    return len(kept)
