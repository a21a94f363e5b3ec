"""Turns a crash left unanswered: a session ending with a user message nobody will answer.

A turn stores the user's message, then its reply when the upstream is done; a process
killed in between leaves the message with no reply and no marker. At start (under the
bootstrap lock, see `app.prepare_storage`) each session whose last message is a user
message older than any turn can still be running gets an empty assistant reply with
status `interrupted`, as a turn whose client left before the first token gets one.

Repaired at start rather than made up at read time: the marker is then a real row, with
its own id and seq, that pagination, exports, the chat UI and the next turn's context
all see alike, and reads stay plain. The age rule keeps a turn another replica is still
answering out of it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Table, and_, func, select

from thinkingthoughts.storage import turn_rows
from thinkingthoughts.storage.models import Message

MESSAGES: Table = Message.__table__  # type: ignore[assignment] # declared, so a Table

_LAST_SEQ = (
    select(MESSAGES.c.session_id, func.max(MESSAGES.c.seq).label("seq"))
    .group_by(MESSAGES.c.session_id)
    .subquery()
)


def mark_unanswered_turns_interrupted(conn: Connection, *, stored_before: datetime) -> int:
    """Give every session whose last message is a user message stored before
    `stored_before` an empty `interrupted` assistant reply; returns how many."""
    unanswered = conn.execute(
        select(MESSAGES.c.session_id, MESSAGES.c.created_at)
        .join(
            _LAST_SEQ,
            and_(
                MESSAGES.c.session_id == _LAST_SEQ.c.session_id,
                MESSAGES.c.seq == _LAST_SEQ.c.seq,
            ),
        )
        .where(MESSAGES.c.role == "user", MESSAGES.c.created_at < stored_before)
    ).all()
    for session_id, asked_at in unanswered:
        turn_rows.append_message(
            conn,
            session_id=session_id,
            role="assistant",
            content="",
            status="interrupted",
            created_at=asked_at,  # the reply started when it was asked for
        )
    return len(unanswered)
