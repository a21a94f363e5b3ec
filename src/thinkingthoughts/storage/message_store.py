"""Reading stored messages: one row each, ordered within their session by `seq`.

Messages are written by `storage.turn_rows.append_message` in the unit of work
(`Database.run` or `Database.transaction()`); these functions only read.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.storage.models import Message


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
