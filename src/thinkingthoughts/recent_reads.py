"""Database reads a process may reuse for a short while, instead of reading again.

Used where every request needs the same few rows (keys, personas) and a change made on
another replica may take effect a few seconds late. `forget()` drops everything, for a
change made through this process; a read already under way when it is called is not
remembered afterwards, so it cannot bring the old state back.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_MAX_ENTRIES = 4096


@dataclass(frozen=True, slots=True)
class ReadStart:
    """When a read began, and the `forget` count then."""

    at: float
    generation: int


class RecentReads(Generic[K, V]):
    def __init__(
        self,
        seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._generation = 0

    def get(self, key: K) -> V | None:
        """The value read less than `seconds` ago, or None."""
        entry = self._entries.get(key)
        if entry is None or self._clock() - entry[0] >= self._seconds:
            return None
        return entry[1]

    def start_read(self) -> ReadStart:
        """Call before reading; the value is then as fresh as this moment."""
        return ReadStart(at=self._clock(), generation=self._generation)

    def remember(self, started: ReadStart, key: K, value: V) -> None:
        """Keep what a read found, unless `forget` was called while it ran."""
        if self._seconds <= 0 or started.generation != self._generation:
            return
        self._entries[key] = (started.at, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def update(self, key: K, value: V) -> None:
        """Change a remembered value in place, keeping its read time (no-op when absent)."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (entry[0], value)

    def forget(self) -> None:
        self._generation += 1
        self._entries.clear()
