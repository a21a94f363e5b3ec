"""Stored messages: one row each, ordered within their session by `seq`.

Functions flush and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from thinkingthoughts.storage import turn_rows
from thinkingthoughts.storage.models import ChatSession, Message, MessageRole


async def append_message(
    db: AsyncSession,
    *,
    session_id: str,
    parent_id: turn_rows.ParentChoice,
    role: MessageRole,
    content: str,
    content_tokens: int,
) -> turn_rows.AppendedMessage:
    """`turn_rows.append_message` in this session's transaction (see there); a session
    object this unit of work has loaded is kept current."""
    appended = await db.run_sync(
        lambda sync: turn_rows.append_message(
            sync.connection(),
            session_id=session_id,
            parent_id=parent_id,
            role=role,
            content=content,
            content_tokens=content_tokens,
        )
    )
    _refresh_loaded_session(
        db,
        session_id,
        next_seq=appended.seq,
        message_count=appended.message_count,
        active_leaf_id=appended.id,
        updated_at=appended.stored_at,
    )
    return appended


async def list_messages(
    db: AsyncSession, *, session_id: str, limit: int, offset: int = 0
) -> list[Message]:
    """One page of a session's messages, oldest first."""
    rows = await db.scalars(
        select(Message)
        .where(Message.session_id == session_id)
        .order_by(Message.seq)
        .limit(limit)
        .offset(offset)
    )
    return list(rows)


async def count_messages(db: AsyncSession, *, session_id: str) -> int:
    count = await db.scalar(
        select(func.count()).select_from(Message).where(Message.session_id == session_id)
    )
    return count or 0


def _refresh_loaded_session(
    db: AsyncSession,
    session_id: str,
    *,
    next_seq: int,
    message_count: int,
    active_leaf_id: str,
    updated_at: datetime,
) -> None:
    # A session object already loaded in this unit of work would otherwise keep stale
    # counters; expiring them instead would make the next attribute read do I/O.
    loaded = db.identity_map.get(identity_key(ChatSession, session_id))
    if loaded is None:
        return
    set_committed_value(loaded, "next_seq", next_seq)
    set_committed_value(loaded, "message_count", message_count)
    set_committed_value(loaded, "active_leaf_id", active_leaf_id)
    set_committed_value(loaded, "updated_at", updated_at)
