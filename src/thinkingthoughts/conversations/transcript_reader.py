"""A stored conversation as a transcript (the API's export and the CLI's): its active
path, each message with its alternatives."""

from __future__ import annotations

from typing import Literal

import orjson
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.conversations.transcripts import (
    Transcript,
    TranscriptMessage,
    transcript_document,
    transcript_markdown,
)
from thinkingthoughts.conversations.tree import active_path, alternatives
from thinkingthoughts.storage import persona_store
from thinkingthoughts.storage.models import ChatSession
from thinkingthoughts.storage.tree_rows import TreeMessage

ExportFormat = Literal["md", "json"]
MEDIA_TYPES: dict[ExportFormat, str] = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


async def read_transcript(db: AsyncSession, session: ChatSession) -> Transcript:
    persona = (
        await persona_store.get_persona(db, ref=session.persona_id) if session.persona_id else None
    )
    messages = await db.run_sync(
        lambda sync: _active_path_with_alternatives(
            sync.connection(), session_id=session.id, active_leaf_id=session.active_leaf_id
        )
    )
    return Transcript(
        session_id=session.id,
        title=session.title,
        persona_name=persona.name if persona else None,
        persona_slug=persona.slug if persona else None,
        created_at=session.created_at,
        messages=messages,
    )


def _active_path_with_alternatives(
    conn: Connection, *, session_id: str, active_leaf_id: str | None
) -> list[TranscriptMessage]:
    path = active_path(conn, session_id=session_id, active_leaf_id=active_leaf_id)
    return [
        _transcript_message(
            placed.message,
            [
                _transcript_message(other, [])
                for other in alternatives(conn, session_id=session_id, message=placed)
            ],
        )
        for placed in path
    ]


def _transcript_message(message: TreeMessage, others: list[TranscriptMessage]) -> TranscriptMessage:
    return TranscriptMessage(
        message.seq,
        message.role,
        message.content,
        message.status,
        message.created_at,
        message.tool_calls or (),
        others,
    )


def rendered_transcript(transcript: Transcript, export_format: ExportFormat) -> bytes:
    """The export file's content: Markdown, or indented JSON."""
    if export_format == "json":
        return orjson.dumps(transcript_document(transcript), option=orjson.OPT_INDENT_2)
    return transcript_markdown(transcript).encode()
