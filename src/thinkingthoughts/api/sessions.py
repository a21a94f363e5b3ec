"""Sessions: list, read (the active path, or the whole tree) with paginated messages,
choose the active path, fork, rename, delete, export."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.access.principal import Principal
from thinkingthoughts.api.deps import ChatPrincipal, DbSession, ReadPrincipal, Resources
from thinkingthoughts.conversations import tree
from thinkingthoughts.conversations.transcript_reader import (
    MEDIA_TYPES,
    ExportFormat,
    read_transcript,
    rendered_transcript,
)
from thinkingthoughts.errors import SessionNotFoundError
from thinkingthoughts.storage import persona_store, session_store
from thinkingthoughts.storage.models import ChatSession
from thinkingthoughts.value_rules import MAX_INT64, NON_BLANK, AcceptableText, ClientModel

router = APIRouter(prefix="/api/sessions", tags=["sessions"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_INT64)]


class SessionOut(BaseModel):
    id: str
    title: str | None
    persona_id: str | None
    persona: str | None
    traits: dict[str, int]
    message_count: int
    """How many messages the active path holds."""
    active_leaf_id: str | None
    """The last message of the active path."""
    created_at: datetime
    updated_at: datetime


class SessionList(BaseModel):
    data: list[SessionOut]
    total: int
    limit: int
    offset: int


class MessageOut(BaseModel):
    id: str
    parent_id: str | None
    """The message this one follows; null for a root."""
    sibling_index: int
    """Its place among the messages sharing its parent, by seq (0-based)."""
    sibling_count: int
    sibling_ids: list[str]
    """Every sibling's id, its own included, by seq."""
    on_active_path: bool
    seq: int
    role: str
    content: str
    status: str
    model: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    tool_calls: list[dict[str, Any]] | None
    created_at: datetime


class SessionDetail(SessionOut):
    messages: list[MessageOut]
    """The active path, oldest first; with `tree=true`, every message by seq."""
    messages_total: int
    limit: int
    offset: int


class ForkRequest(ClientModel):
    message_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    """The last message the new session copies (with the path leading to it)."""


Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NON_BLANK
]
"""A session title: stored without surrounding spaces; a blank one is refused, not stored."""


class RenameRequest(ClientModel):
    title: Title


@router.get("")
async def list_sessions(
    principal: ReadPrincipal, db: DbSession, limit: Limit = 50, offset: Offset = 0
) -> SessionList:
    rows, total = await session_store.list_sessions(
        db, owner=principal.owner, limit=limit, offset=offset
    )
    slugs = await _persona_slugs(db)
    return SessionList(
        data=[_session_out(row, slugs) for row in rows], total=total, limit=limit, offset=offset
    )


@router.get("/{session_id}")
async def read_session(
    session_id: AcceptableText,
    principal: ReadPrincipal,
    db: DbSession,
    limit: Limit = 100,
    offset: Offset = 0,
    tree: bool = False,
) -> SessionDetail:
    """The session and one page of its active path, oldest first (`tree=true`: of every
    message, by seq)."""
    row = await _owned_session(db, session_id, principal)
    return await _session_detail(db, row, limit=limit, offset=offset, whole_tree=tree)


MessageId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


@router.post("/{session_id}/messages/{message_id}/select")
async def select_message(
    session_id: AcceptableText,
    message_id: MessageId,
    principal: ChatPrincipal,
    resources: Resources,
    db: DbSession,
) -> SessionDetail:
    """Make the active path run through the message, then on to its newest leaf."""
    await resources.database.run(
        partial(
            tree.select_message,
            session_id=session_id,
            owner=principal.owner,
            message_id=message_id,
        )
    )
    row = await _owned_session(db, session_id, principal)
    return await _session_detail(db, row, limit=100, offset=0, whole_tree=False)


@router.post("/{session_id}/fork", status_code=status.HTTP_201_CREATED)
async def fork_session(
    session_id: AcceptableText,
    body: ForkRequest,
    principal: ChatPrincipal,
    resources: Resources,
    db: DbSession,
) -> SessionDetail:
    """A new session of the caller's (persona, traits and title of this one) whose
    messages are copies of the path from the root to `message_id`."""
    source = await _owned_session(db, session_id, principal)
    title = source.title
    await db.rollback()  # the read is over; the fork is written by its own transaction
    forked_id = await resources.database.run(
        partial(
            tree.fork_at,
            session_id=session_id,
            owner=principal.owner,
            message_id=body.message_id,
            title=title,
        )
    )
    row = await _owned_session(db, forked_id, principal)
    return await _session_detail(db, row, limit=100, offset=0, whole_tree=False)


@router.patch("/{session_id}")
async def rename_session(
    session_id: AcceptableText,
    body: RenameRequest,
    principal: ChatPrincipal,
    resources: Resources,
    db: DbSession,
) -> SessionOut:
    async with resources.database.transaction() as work:
        await _owned_session(work, session_id, principal)
        await session_store.rename_session(work, session_id=session_id, title=body.title)
    row = await _owned_session(db, session_id, principal)
    return _session_out(row, await _persona_slugs(db))


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(
    session_id: AcceptableText, principal: ChatPrincipal, resources: Resources
) -> None:
    async with resources.database.transaction() as db:
        await _owned_session(db, session_id, principal)
        await session_store.delete_session(db, session_id=session_id)


@router.get("/{session_id}/export")
async def export_session(
    session_id: AcceptableText,
    principal: ReadPrincipal,
    db: DbSession,
    format: ExportFormat = "md",
) -> Response:
    row = await _owned_session(db, session_id, principal)
    transcript = await read_transcript(db, row)
    filename = f"conversation-{row.id}.{format}"
    return Response(
        rendered_transcript(transcript, format),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _owned_session(db: AsyncSession, session_id: str, principal: Principal) -> ChatSession:
    row = await session_store.get_session(db, session_id=session_id, owner=principal.owner)
    if row is None:
        raise SessionNotFoundError(session_id)
    return row


async def _persona_slugs(db: AsyncSession) -> dict[str, str]:
    return {p.id: p.slug for p in await persona_store.list_personas(db)}


async def _session_detail(
    db: AsyncSession, row: ChatSession, *, limit: int, offset: int, whole_tree: bool
) -> SessionDetail:
    read = tree.read_tree if whole_tree else tree.read_active_path
    page = await db.run_sync(
        lambda sync: read(
            sync.connection(),
            session_id=row.id,
            active_leaf_id=row.active_leaf_id,
            limit=limit,
            offset=offset,
        )
    )
    base = _session_out(row, await _persona_slugs(db))
    return SessionDetail(
        **base.model_dump(),
        messages=[_message_out(m) for m in page.messages],
        messages_total=page.total,
        limit=limit,
        offset=offset,
    )


def _session_out(row: ChatSession, slugs: dict[str, str]) -> SessionOut:
    return SessionOut(
        id=row.id,
        title=row.title,
        persona_id=row.persona_id,
        persona=slugs.get(row.persona_id) if row.persona_id else None,
        traits=dict(row.traits or {}),
        message_count=row.message_count,
        active_leaf_id=row.active_leaf_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _message_out(placed: tree.PlacedMessage) -> MessageOut:
    row = placed.message
    return MessageOut(
        id=row.id,
        parent_id=row.parent_id,
        sibling_index=placed.sibling_index,
        sibling_count=placed.sibling_count,
        sibling_ids=list(placed.sibling_ids),
        on_active_path=placed.on_active_path,
        seq=row.seq,
        role=row.role,
        content=row.content,
        status=row.status,
        model=row.model,
        finish_reason=row.finish_reason,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        tool_calls=row.tool_calls,
        created_at=row.created_at,
    )
