"""The tables: personas, chat sessions, their messages, API keys and their usage.

A conversation is one `sessions` row plus one `messages` row per turn, never one
document: reading the tail of a long chat costs the same as reading a short one.
Ids are uuid4 strings made in Python; every timestamp is timezone-aware UTC.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MessageRole = Literal["system", "user", "assistant"]
MessageStatus = Literal["complete", "interrupted", "error"]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names are derived, never left to the database, so migrations can name them."""


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that always hands back aware UTC datetimes.

    SQLite keeps no offset, so values are stored converted to UTC and read back with
    UTC attached. A naive datetime is refused: its meaning would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: stored timestamps must be aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Persona(Base):
    """A character sheet. `owner` NULL means a global persona, offered to every key.

    A slug is unique among the global personas and within one owner's private ones;
    two owners may each have a private persona of the same slug, so that making one
    never reveals the other (`personas.registry` keeps a private slug off the globals').
    """

    __tablename__ = "personas"
    __table_args__ = (
        # NULL owners never compare equal: this one holds private personas only.
        UniqueConstraint("owner", "slug"),
        Index(
            "uq_personas_global_slug",
            "slug",
            unique=True,
            sqlite_where=text("owner IS NULL"),
            postgresql_where=text("owner IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    sheet: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    """Bumped on every update, so a compiled prompt can be cached by (id, version)."""
    owner: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChatSession(Base):
    """One conversation, owned by an API key id or an owner name."""

    __tablename__ = "sessions"
    __table_args__ = (
        # Leads with owner, so it also serves every owner-only lookup.
        Index("ix_sessions_owner_updated_at", "owner", "updated_at"),
        Index("ix_sessions_owner_client_ref", "owner", "client_ref", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(128))
    persona_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("personas.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str | None] = mapped_column(String(200))
    client_ref: Mapped[str | None] = mapped_column(String(128))
    """A client's own name for the session (the OpenAI `user` field), unique per owner."""
    traits: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    next_seq: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """The last seq allocated to a message of this session (0: none yet)."""
    message_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """How many messages the active path holds (the session may store more)."""
    active_leaf_id: Mapped[str | None] = mapped_column(String(36))
    """The last message of the active path (NULL: no message yet). No foreign key: the
    two tables would reference each other; storage keeps it pointing at its own rows."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Message(Base):
    """One turn of a conversation, a node of the session's tree.

    `parent_id` is the message this one answers or follows (NULL: a root); `seq`
    orders a session's messages by insertion from 1 upwards (siblings by seq);
    `path_tokens` is the estimated size of the path from the root through this message.
    """

    __tablename__ = "messages"
    __table_args__ = (
        # Also the index that reads a history tail: WHERE session_id ORDER BY seq DESC.
        UniqueConstraint("session_id", "seq"),
        # The children of a message, and a session's roots (parent_id NULL).
        Index("ix_messages_session_id_parent_id", "session_id", "parent_id"),
        CheckConstraint("role IN ('system', 'user', 'assistant')", name="role"),
        CheckConstraint("status IN ('complete', 'interrupted', 'error')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sessions.id", ondelete="CASCADE")
    )
    parent_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("messages.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    path_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """parent's path_tokens + `estimate_message_tokens(content)` (a root: its own)."""
    role: Mapped[MessageRole] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[MessageStatus] = mapped_column(
        String(16), default="complete", server_default="complete"
    )
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(200))
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """The tool calls an assistant message made, in OpenAI's shape."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """An API key: only its SHA-256 is stored, `prefix` is the part shown to people."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(128), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    owner: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    """Limits of this key; NULL takes the gateway's default, 0 means no limit."""
    tokens_per_minute: Mapped[int | None] = mapped_column(Integer)
    concurrent_streams: Mapped[int | None] = mapped_column(Integer)
    allowed_personas: Mapped[list[str] | None] = mapped_column(JSON)
    """Slugs of the personas this key may talk to; NULL: every persona it can see."""
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON)
    """Upstream models this key may run; NULL: every model."""


class KeyUsage(Base):
    """What a key consumed, summed per UTC day, persona and upstream model.

    One row per combination, updated in place: the table grows with days, not requests.
    `persona` is the persona's slug at the time ('' for a plain upstream model).
    """

    __tablename__ = "key_usage"

    key_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    persona: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
