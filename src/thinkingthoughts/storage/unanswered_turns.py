"""Turns a crash left unanswered: a session ending with a user message nobody will answer.

A turn stores the user's message, then its reply when the upstream is done; a process
killed in between leaves the message with no reply and no marker. At start (under the
bootstrap lock, see `app.prepare_storage`) each session whose active leaf is a user
message older than any turn can still be running gets an empty assistant reply with
status `interrupted`, as a turn whose client left before the first token gets one.

A replica restarted moments after a crash finds those turns still too young to tell from
one another replica is answering, so `UnansweredTurnsWatch` looks again every so often
while the gateway runs, under the same lock, and marks them once they are old enough.

Repaired in storage rather than made up at read time: the marker is then a real row, with
its own id and seq, that pagination, exports, the chat UI and the next turn's context
all see alike, and reads stay plain. The age rule keeps a turn another replica is still
answering out of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Connection, Table, select

from thinkingthoughts.storage import turn_rows
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import ChatSession, Message

logger = logging.getLogger(__name__)

MESSAGES: Table = Message.__table__  # type: ignore[assignment] # declared, so a Table

SESSIONS: Table = ChatSession.__table__  # type: ignore[assignment]


def mark_unanswered_turns_interrupted(conn: Connection, *, stored_before: datetime) -> int:
    """Give every session whose active leaf is a user message stored before
    `stored_before` an empty `interrupted` assistant reply under it; returns how many."""
    unanswered = conn.execute(
        select(MESSAGES.c.session_id, MESSAGES.c.id, MESSAGES.c.created_at)
        .join(SESSIONS, SESSIONS.c.active_leaf_id == MESSAGES.c.id)
        .where(MESSAGES.c.role == "user", MESSAGES.c.created_at < stored_before)
    ).all()
    for session_id, question_id, asked_at in unanswered:
        turn_rows.append_message(
            conn,
            session_id=session_id,
            parent_id=question_id,
            role="assistant",
            content="",
            # Storage does not estimate: the marker's few tokens of template are left out.
            content_tokens=0,
            status="interrupted",
            created_at=asked_at,  # the reply started when it was asked for
        )
    return len(unanswered)


class UnansweredTurnsWatch:
    """Every `every` seconds, under `lock` (the one replicas take to prepare the database,
    so two never mark the same turn), marks the turns unanswered for `older_than`."""

    def __init__(
        self,
        database: Database,
        *,
        lock: Callable[[], AbstractAsyncContextManager[None]],
        older_than: timedelta,
        every: float,
    ) -> None:
        self._database = database
        self._lock = lock
        self._older_than = older_than
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="unanswered-turns")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def mark_once(self) -> int:
        async with self._lock():
            return await self._database.run(
                partial(
                    mark_unanswered_turns_interrupted, stored_before=utcnow() - self._older_than
                )
            )

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                marked = await self.mark_once()
            except Exception as exc:  # housekeeping: try again next time, never stop
                logger.warning("could not look for turns left unanswered: %s", exc)
                continue
            if marked:
                logger.info("marked %d turns a crash left unanswered as interrupted", marked)
