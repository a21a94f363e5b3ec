"""Per-key usage on its way to the database: summed in memory, written in batches.

Counting a turn costs no database write of its own: the ledger adds it to a pending sum
per (key, day, persona, model) and a background task writes all pending sums in one
transaction every `flush_seconds` (and on shutdown). Readers of usage call `flush()`
first, so a process always reads its own counts; another replica's are at most
`flush_seconds` behind. With `flush_seconds=0` every turn is written as it ends.
A failed write keeps the sums pending for the next try; turns themselves are stored by
the chat service, never here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import date
from typing import NamedTuple

import anyio
from sqlalchemy.exc import SQLAlchemyError

from thinkingthoughts.storage import usage_store
from thinkingthoughts.storage.database import Database

logger = logging.getLogger(__name__)


class UsageKey(NamedTuple):
    key_id: str
    day: date
    persona: str
    model: str


class UsageLedger:
    def __init__(self, database: Database, *, flush_seconds: float) -> None:
        self._database = database
        self._flush_seconds = flush_seconds
        self._requests: Counter[UsageKey] = Counter()
        self._prompt: Counter[UsageKey] = Counter()
        self._completion: Counter[UsageKey] = Counter()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def add(self, where: UsageKey, *, prompt_tokens: int, completion_tokens: int) -> None:
        self._requests[where] += 1
        self._prompt[where] += prompt_tokens
        self._completion[where] += completion_tokens
        if self._flush_seconds <= 0 or self._closed:
            await self.flush()

    @property
    def pending(self) -> int:
        """Turns counted but not yet written."""
        return sum(self._requests.values())

    async def flush(self) -> None:
        """Write every pending sum in one transaction; on failure they stay pending."""
        async with self._lock:
            batch = list(self._requests)
            if not batch:
                return
            taken = [(k, self._requests[k], self._prompt[k], self._completion[k]) for k in batch]
            for key in batch:
                del self._requests[key], self._prompt[key], self._completion[key]
            try:
                with anyio.CancelScope(shield=True):
                    async with self._database.transaction() as db:
                        for key, requests, prompt, completion in taken:
                            await usage_store.add_usage(
                                db,
                                key_id=key.key_id,
                                day=key.day,
                                persona=key.persona,
                                model=key.model,
                                requests=requests,
                                prompt_tokens=prompt,
                                completion_tokens=completion,
                            )
            except BaseException as failure:
                # Not written (a database error, or cancelled at shutdown): kept for the
                # next flush, which `close` always makes.
                for key, requests, prompt, completion in taken:
                    self._requests[key] += requests
                    self._prompt[key] += prompt
                    self._completion[key] += completion
                if not isinstance(failure, SQLAlchemyError | OSError | TimeoutError):
                    raise
                logger.exception("could not write usage of %d turns; will retry", len(taken))

    def start(self) -> None:
        """Flush every `flush_seconds` in the background (nothing to do when it is 0)."""
        if self._flush_seconds > 0 and self._task is None:
            self._task = asyncio.create_task(self._flush_periodically())

    async def close(self) -> None:
        """Stop the background flushes and write what is still pending; usage counted
        after this (turns still finishing) is written as it comes."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            try:
                await self.flush()
            except Exception:  # never stop flushing: the counts are kept for the next try
                logger.exception("usage flush failed")
