"""The rows behind the Responses API: a stored response is an assistant message, found
by its id for the owner of its session, and nothing else is stored for it.

SQLAlchemy Core on a synchronous `Connection` (run by `Database.run`); functions never
commit. Another owner's message, a user's message and an unknown id read alike: None.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, Table, bindparam, select

from thinkingthoughts.storage.models import MessageStatus, Persona
from thinkingthoughts.storage.turn_rows import MESSAGES, SESSIONS, read_path_tail

PERSONAS: Table = Persona.__table__  # type: ignore[assignment] # declared, so a Table
INPUT_READ_LIMIT = 64
"""How far above a reply its previous reply is looked for (its input's messages)."""


class StoredReply(NamedTuple):
    """An assistant message as a response shows it."""

    id: str
    session_id: str
    content: str
    status: MessageStatus
    model: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    created_at: datetime
    persona_slug: str | None
    """The slug of the session's persona, if it has one."""


_FIND_REPLY = (
    select(
        MESSAGES.c.id,
        MESSAGES.c.session_id,
        MESSAGES.c.content,
        MESSAGES.c.status,
        MESSAGES.c.model,
        MESSAGES.c.finish_reason,
        MESSAGES.c.prompt_tokens,
        MESSAGES.c.completion_tokens,
        MESSAGES.c.created_at,
        PERSONAS.c.slug,
    )
    .join(SESSIONS, SESSIONS.c.id == MESSAGES.c.session_id)
    .outerjoin(PERSONAS, PERSONAS.c.id == SESSIONS.c.persona_id)
    .where(
        MESSAGES.c.id == bindparam("message_id"),
        MESSAGES.c.role == "assistant",
        SESSIONS.c.owner == bindparam("owner"),
    )
)


def find_reply(conn: Connection, *, message_id: str, owner: str) -> StoredReply | None:
    """The assistant message `message_id` in one of `owner`'s sessions, or None."""
    row = conn.execute(_FIND_REPLY, {"message_id": message_id, "owner": owner}).first()
    return None if row is None else StoredReply._make(row)


def previous_reply_id(conn: Connection, *, reply_id: str) -> str | None:
    """The reply a stored reply continues: its nearest assistant ancestor, above the
    input messages it answered; None for the first reply of a conversation."""
    ancestors = read_path_tail(conn, leaf_id=reply_id, limit=INPUT_READ_LIMIT)[1:]
    return next((row.id for row in ancestors if row.role == "assistant"), None)
