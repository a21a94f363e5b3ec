"""Stored chat sessions, scoped by owner: reads, and the writes of the sessions API, in
SQLAlchemy Core inside the caller's unit of work (never committing)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.models import ChatSession
from thinkingthoughts.storage.turn_rows import SESSIONS, SessionRow
from thinkingthoughts.storage.turn_rows import create_session as create_session_row


async def create_session(
    db: AsyncSession,
    *,
    owner: str,
    persona_id: str | None,
    traits: Mapping[str, int],
    title: str | None = None,
) -> SessionRow:
    """A new, empty session of `owner`'s."""
    session_id = await db.run_sync(
        lambda sync: create_session_row(
            sync.connection(), owner=owner, persona_id=persona_id, traits=traits, title=title
        )
    )
    return SessionRow(session_id, persona_id, dict(traits), None)


async def get_session(
    db: AsyncSession, *, session_id: str, owner: str | None
) -> ChatSession | None:
    """The session if `owner` owns it; `owner=None` (an admin) sees every session."""
    query = select(ChatSession).where(ChatSession.id == session_id, *_owned_by(owner))
    return await db.scalar(query)


async def get_session_by_client_ref(
    db: AsyncSession, *, owner: str, client_ref: str
) -> ChatSession | None:
    query = select(ChatSession).where(
        ChatSession.owner == owner, ChatSession.client_ref == client_ref
    )
    return await db.scalar(query)


async def list_sessions(
    db: AsyncSession, *, owner: str | None, limit: int, offset: int = 0
) -> tuple[list[ChatSession], int]:
    """One page of sessions, most recent activity first, and how many there are in all.

    `owner=None` lists every owner's sessions.
    """
    page = (
        select(ChatSession)
        .where(*_owned_by(owner))
        .order_by(ChatSession.updated_at.desc(), ChatSession.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = list(await db.scalars(page))
    total = await db.scalar(select(func.count()).select_from(ChatSession).where(*_owned_by(owner)))
    return rows, total or 0


async def rename_session(db: AsyncSession, *, session_id: str, title: str | None) -> None:
    await db.execute(
        update(SESSIONS).where(SESSIONS.c.id == session_id).values(title=title, updated_at=utcnow())
    )


async def delete_session(db: AsyncSession, *, session_id: str) -> None:
    """Delete the session; the database deletes its messages with it."""
    await db.execute(delete(SESSIONS).where(SESSIONS.c.id == session_id))


async def delete_sessions_idle_since(db: AsyncSession, *, cutoff: datetime) -> int:
    """Delete every session with no activity since `cutoff` (its messages go with it);
    returns how many went."""
    result = await db.execute(
        delete(ChatSession).where(ChatSession.updated_at < cutoff),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def count_sessions_idle_since(db: AsyncSession, *, cutoff: datetime) -> int:
    count = await db.scalar(
        select(func.count()).select_from(ChatSession).where(ChatSession.updated_at < cutoff)
    )
    return count or 0


def _owned_by(owner: str | None) -> tuple[ColumnElement[bool], ...]:
    return () if owner is None else (ChatSession.owner == owner,)
