"""A stored conversation as a transcript (the API's export and the CLI's)."""

from __future__ import annotations

from typing import Literal

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.conversations.transcripts import (
    Transcript,
    TranscriptMessage,
    transcript_document,
    transcript_markdown,
)
from thinkingthoughts.storage import message_store, persona_store
from thinkingthoughts.storage.models import ChatSession

ExportFormat = Literal["md", "json"]
MEDIA_TYPES: dict[ExportFormat, str] = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


async def read_transcript(db: AsyncSession, session: ChatSession) -> Transcript:
    persona = (
        await persona_store.get_persona(db, ref=session.persona_id) if session.persona_id else None
    )
    messages = await message_store.list_messages(
        db, session_id=session.id, limit=session.message_count or 1, offset=0
    )
    return Transcript(
        session_id=session.id,
        title=session.title,
        persona_name=persona.name if persona else None,
        persona_slug=persona.slug if persona else None,
        created_at=session.created_at,
        messages=[
            TranscriptMessage(m.seq, m.role, m.content, m.status, m.created_at, m.tool_calls or ())
            for m in messages
        ],
    )


def rendered_transcript(transcript: Transcript, export_format: ExportFormat) -> bytes:
    """The export file's content: Markdown, or indented JSON."""
    if export_format == "json":
        return orjson.dumps(transcript_document(transcript), option=orjson.OPT_INDENT_2)
    return transcript_markdown(transcript).encode()
