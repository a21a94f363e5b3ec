"""The rows one chat turn reads and writes, in SQLAlchemy Core on a synchronous
`Connection`: a turn's statements run together in one trip to the database
(`Database.run`), not one trip each through the async ORM.

The statements are built once, with bound parameters, so a turn only looks up their
compiled form. Functions never commit: the caller's transaction does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, update

from thinkingthoughts.errors import NotFoundError
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.models import (
    ChatSession,
    Message,
    MessageRole,
    MessageStatus,
    new_id,
)

SESSIONS: Table = ChatSession.__table__  # type: ignore[assignment] # declared, so a Table
MESSAGES: Table = Message.__table__  # type: ignore[assignment]
ANY_SEQ = 2**31 - 1
"""Above every seq (the column is a 32-bit integer): 'before ANY_SEQ' is the whole session."""


class SessionRow(NamedTuple):
    """What a turn needs of its session."""

    id: str
    persona_id: str | None
    traits: dict[str, int]


class AppendedMessage(NamedTuple):
    id: str
    seq: int
    message_count: int
    """The session's message count with this one."""
    stored_at: datetime


class HistoryRow(NamedTuple):
    """What the context of a turn needs of a stored message, and nothing more."""

    seq: int
    role: MessageRole
    content: str
    status: MessageStatus


_FIND_SESSION = select(SESSIONS.c.id, SESSIONS.c.persona_id, SESSIONS.c.traits).where(
    SESSIONS.c.id == bindparam("session_id")
)
_FIND_OWNED_SESSION = _FIND_SESSION.where(SESSIONS.c.owner == bindparam("owner"))
_SET_SESSION_PERSONA = (
    update(SESSIONS)
    .where(SESSIONS.c.id == bindparam("session_id"))
    .values(persona_id=bindparam("new_persona_id"))
)
_SET_SESSION_TRAITS = (
    update(SESSIONS)
    .where(SESSIONS.c.id == bindparam("session_id"))
    .values(traits=bindparam("new_traits"))
)
_ALLOCATE_SEQ = (
    update(SESSIONS)
    .where(SESSIONS.c.id == bindparam("session_id"))
    .values(
        next_seq=SESSIONS.c.next_seq + 1,
        message_count=SESSIONS.c.message_count + 1,
        updated_at=bindparam("now"),
    )
    .returning(SESSIONS.c.next_seq, SESSIONS.c.message_count)
)
_INSERT_SESSION = insert(SESSIONS)
_INSERT_MESSAGE = insert(MESSAGES)
_HISTORY_TAIL = (
    select(MESSAGES.c.seq, MESSAGES.c.role, MESSAGES.c.content, MESSAGES.c.status)
    .where(
        MESSAGES.c.session_id == bindparam("session_id"),
        MESSAGES.c.seq < bindparam("before_seq"),
    )
    .order_by(MESSAGES.c.seq.desc())
    .limit(bindparam("limit"))
)
_LAST_USER_SEQ = select(func.max(MESSAGES.c.seq)).where(
    MESSAGES.c.session_id == bindparam("session_id"), MESSAGES.c.role == "user"
)
_DROP_AFTER = delete(MESSAGES).where(
    MESSAGES.c.session_id == bindparam("session_id"), MESSAGES.c.seq > bindparam("after_seq")
)
_UNCOUNT_MESSAGES = (
    update(SESSIONS)
    .where(SESSIONS.c.id == bindparam("session_id"))
    .values(
        message_count=SESSIONS.c.message_count - bindparam("dropped"),
        updated_at=bindparam("now"),
    )
)


def find_session(conn: Connection, *, session_id: str, owner: str | None) -> SessionRow | None:
    """The session if `owner` owns it; `owner=None` (an admin) sees every session."""
    if owner is None:
        row = conn.execute(_FIND_SESSION, {"session_id": session_id}).first()
    else:
        row = conn.execute(_FIND_OWNED_SESSION, {"session_id": session_id, "owner": owner}).first()
    return None if row is None else SessionRow(row.id, row.persona_id, row.traits or {})


def create_session(
    conn: Connection,
    *,
    owner: str,
    persona_id: str | None,
    traits: Mapping[str, int],
    title: str | None,
) -> str:
    """A new, empty session; returns its id."""
    session_id, now = new_id(), utcnow()
    conn.execute(
        _INSERT_SESSION,
        {
            "id": session_id,
            "owner": owner,
            "persona_id": persona_id,
            "title": title,
            "client_ref": None,
            "traits": dict(traits),
            "next_seq": 0,
            "message_count": 0,
            "created_at": now,
            "updated_at": now,
        },
    )
    return session_id


def set_session_persona(conn: Connection, *, session_id: str, persona_id: str | None) -> None:
    """The persona the session's next turns use."""
    conn.execute(_SET_SESSION_PERSONA, {"session_id": session_id, "new_persona_id": persona_id})


def set_session_traits(conn: Connection, *, session_id: str, traits: Mapping[str, int]) -> None:
    """The trait levels the session's next turns use (the whole mapping)."""
    conn.execute(_SET_SESSION_TRAITS, {"session_id": session_id, "new_traits": dict(traits)})


def append_message(
    conn: Connection,
    *,
    session_id: str,
    role: MessageRole,
    content: str,
    status: MessageStatus = "complete",
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    model: str | None = None,
    finish_reason: str | None = None,
    message_id: str | None = None,
    created_at: datetime | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> AppendedMessage:
    """Store a message at the end of its session, under the session's next `seq`.

    The seq comes from one `UPDATE ... RETURNING` on the session row, so concurrent
    writers get distinct, consecutive numbers (the row stays locked until the caller's
    transaction ends). Also bumps the session's `message_count` and `updated_at`.
    `message_id` lets a caller announce an id before the message is stored;
    `created_at` (default now) lets it date the message from when it started.
    Raises `NotFoundError` when the session does not exist.
    """
    now = utcnow()
    allocated = conn.execute(_ALLOCATE_SEQ, {"session_id": session_id, "now": now}).first()
    if allocated is None:
        raise NotFoundError(f"no session '{session_id}'", code="session_not_found")
    seq, message_count = allocated
    message_id = message_id or new_id()
    conn.execute(
        _INSERT_MESSAGE,
        {
            "id": message_id,
            "session_id": session_id,
            "seq": seq,
            "role": role,
            "content": content,
            "status": status,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "model": model,
            "finish_reason": finish_reason,
            "tool_calls": tool_calls or None,
            "created_at": created_at or now,
            "completed_at": now,
        },
    )
    return AppendedMessage(message_id, seq, message_count, now)


def read_history_tail(
    conn: Connection, *, session_id: str, limit: int, before_seq: int | None = None
) -> list[HistoryRow]:
    """Up to `limit` messages with seq below `before_seq` (default: all), NEWEST FIRST.

    Page backwards by passing the smallest seq of the previous page as `before_seq`.
    """
    rows = conn.execute(
        _HISTORY_TAIL,
        {
            "session_id": session_id,
            "before_seq": ANY_SEQ if before_seq is None else before_seq,
            "limit": limit,
        },
    ).all()  # one fetchall, not a fetch per row
    return [HistoryRow._make(row) for row in rows]


def drop_replies_after_last_user(conn: Connection, *, session_id: str) -> int | None:
    """Delete what follows the session's last user message (the replies to it), so that
    message can be answered anew. Returns how many went; None when the session has no
    user message at all (nothing is deleted then)."""
    last_user = conn.execute(_LAST_USER_SEQ, {"session_id": session_id}).scalar()
    if last_user is None:
        return None
    result = conn.execute(_DROP_AFTER, {"session_id": session_id, "after_seq": last_user})
    dropped = int(result.rowcount or 0)
    conn.execute(_UNCOUNT_MESSAGES, {"session_id": session_id, "dropped": dropped, "now": utcnow()})
    return dropped
