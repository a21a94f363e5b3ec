"""Stored messages: one row each, ordered within their session by `seq`.

Functions flush and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from thinkingthoughts.errors import NotFoundError
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.models import ChatSession, Message, MessageRole, MessageStatus, new_id


async def append_message(
    db: AsyncSession,
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
) -> Message:
    """Store a message at the end of its session, under the session's next `seq`.

    The seq comes from one `UPDATE ... RETURNING` on the session row, so concurrent
    writers get distinct, consecutive numbers (the row stays locked until the caller's
    transaction ends). Also bumps the session's `message_count` and `updated_at`.
    `message_id` lets a caller announce an id before the message is stored;
    `created_at` (default now) lets it date the message from when it started.
    Raises `NotFoundError` when the session does not exist.
    """
    now = utcnow()
    allocated = (
        await db.execute(
            update(ChatSession)
            .where(ChatSession.id == session_id)
            .values(
                next_seq=ChatSession.next_seq + 1,
                message_count=ChatSession.message_count + 1,
                updated_at=now,
            )
            .returning(ChatSession.next_seq, ChatSession.message_count),
            execution_options={"synchronize_session": False},
        )
    ).one_or_none()
    if allocated is None:
        raise NotFoundError(f"no session '{session_id}'", code="session_not_found")
    seq, message_count = allocated
    _refresh_loaded_session(
        db, session_id, next_seq=seq, message_count=message_count, updated_at=now
    )
    message = Message(
        id=message_id or new_id(),
        session_id=session_id,
        seq=seq,
        role=role,
        content=content,
        status=status,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        model=model,
        finish_reason=finish_reason,
        tool_calls=tool_calls or None,
        created_at=created_at or now,
        completed_at=now,
    )
    db.add(message)
    await db.flush()
    return message


class HistoryRow(NamedTuple):
    """What the context of a turn needs of a stored message, and nothing more."""

    seq: int
    role: MessageRole
    content: str
    status: MessageStatus


async def read_history_tail(
    db: AsyncSession, *, session_id: str, limit: int, before_seq: int | None = None
) -> list[HistoryRow]:
    """Up to `limit` messages with seq below `before_seq` (default: all), NEWEST FIRST.

    Page backwards by passing the smallest seq of the previous page as `before_seq`.
    Plain rows, not ORM objects: this runs on every turn, over the conversation's tail.
    """
    query = select(Message.seq, Message.role, Message.content, Message.status).where(
        Message.session_id == session_id
    )
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    rows = await db.execute(query.order_by(Message.seq.desc()).limit(limit))
    return [HistoryRow(*row) for row in rows]


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


async def drop_replies_after_last_user(db: AsyncSession, *, session: ChatSession) -> int | None:
    """Delete what follows the session's last user message (the replies to it), so that
    message can be answered anew. Returns how many went; None when the session has no
    user message at all (nothing is deleted then)."""
    last_user = await db.scalar(
        select(func.max(Message.seq)).where(
            Message.session_id == session.id, Message.role == "user"
        )
    )
    if last_user is None:
        return None
    result = await db.execute(
        delete(Message).where(Message.session_id == session.id, Message.seq > last_user),
        execution_options={"synchronize_session": False},
    )
    dropped = int(getattr(result, "rowcount", 0) or 0)
    session.message_count = session.message_count - dropped
    session.updated_at = utcnow()
    await db.flush()
    return dropped


async def count_messages(db: AsyncSession, *, session_id: str) -> int:
    count = await db.scalar(
        select(func.count()).select_from(Message).where(Message.session_id == session_id)
    )
    return count or 0


def _refresh_loaded_session(
    db: AsyncSession, session_id: str, *, next_seq: int, message_count: int, updated_at: datetime
) -> None:
    # A session object already loaded in this unit of work would otherwise keep stale
    # counters; expiring them instead would make the next attribute read do I/O.
    loaded = db.identity_map.get(identity_key(ChatSession, session_id))
    if loaded is None:
        return
    set_committed_value(loaded, "next_seq", next_seq)
    set_committed_value(loaded, "message_count", message_count)
    set_committed_value(loaded, "updated_at", updated_at)
