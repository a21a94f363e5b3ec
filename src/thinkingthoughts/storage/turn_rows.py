"""The rows one chat turn reads and writes, in SQLAlchemy Core on a synchronous
`Connection`: a turn's statements run together in one trip to the database
(`Database.run`), not one trip each through the async ORM.

The statements are built once, with bound parameters, so a turn only looks up their
compiled form. Functions never commit: the caller's transaction does.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import Connection, Table, bindparam, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from thinkingthoughts.errors import NotFoundError, SessionNotFoundError
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
LONGEST_PATH = 2**31 - 1
"""No path holds more messages (seq is a 32-bit integer)."""


class SessionRow(NamedTuple):
    """What a turn needs of its session."""

    id: str
    persona_id: str | None
    traits: dict[str, int]
    active_leaf_id: str | None = None


class ActiveLeaf(enum.Enum):
    """Where a message goes when the caller names no parent: after the active leaf."""

    ACTIVE_LEAF = "active_leaf"


ACTIVE_LEAF: Final = ActiveLeaf.ACTIVE_LEAF
ParentChoice = str | None | ActiveLeaf
"""A parent message's id, None for a new root, or ACTIVE_LEAF."""


class AppendedMessage(NamedTuple):
    id: str
    seq: int
    message_count: int
    """The session's message count with this one: the length of its (new) active path."""
    stored_at: datetime
    parent_id: str | None = None
    path_tokens: int = 0


class MessageRef(NamedTuple):
    """Where a message sits in its session's tree."""

    id: str
    parent_id: str | None
    role: MessageRole
    seq: int
    path_tokens: int


class PathRow(NamedTuple):
    """A message read along a path: what the context of a turn needs of it."""

    id: str
    parent_id: str | None
    seq: int
    role: MessageRole
    content: str
    status: MessageStatus
    path_tokens: int


class HistoryRow(NamedTuple):
    """What the context of a turn needs of a stored message, and nothing more."""

    seq: int
    role: MessageRole
    content: str
    status: MessageStatus


_FIND_SESSION = select(
    SESSIONS.c.id, SESSIONS.c.persona_id, SESSIONS.c.traits, SESSIONS.c.active_leaf_id
).where(SESSIONS.c.id == bindparam("session_id"))
_FIND_OWNED_SESSION = _FIND_SESSION.where(SESSIONS.c.owner == bindparam("owner"))
_FIND_CLIENT_REF_SESSION = select(
    SESSIONS.c.id, SESSIONS.c.persona_id, SESSIONS.c.traits, SESSIONS.c.active_leaf_id
).where(SESSIONS.c.owner == bindparam("owner"), SESSIONS.c.client_ref == bindparam("client_ref"))
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
    .values(next_seq=SESSIONS.c.next_seq + 1, updated_at=bindparam("now"))
    .returning(SESSIONS.c.next_seq, SESSIONS.c.message_count, SESSIONS.c.active_leaf_id)
)
_SET_ACTIVE_LEAF = (
    update(SESSIONS)
    .where(SESSIONS.c.id == bindparam("session_id"))
    .values(active_leaf_id=bindparam("leaf_id"), message_count=bindparam("path_length"))
)
_FIND_MESSAGE = select(
    MESSAGES.c.id,
    MESSAGES.c.parent_id,
    MESSAGES.c.role,
    MESSAGES.c.seq,
    MESSAGES.c.path_tokens,
).where(MESSAGES.c.id == bindparam("message_id"), MESSAGES.c.session_id == bindparam("session_id"))
_INSERT_MESSAGE = insert(MESSAGES)


def path_upwards(*columns: str) -> Any:
    """A recursive CTE: the message `leaf_id`, then its ancestors up to `limit` of them
    in all, each with `columns` and its distance from the leaf (`depth`, 0 for the leaf).
    Recursive CTEs read the same on SQLite and PostgreSQL."""
    start = select(*(MESSAGES.c[name] for name in columns), literal(0).label("depth")).where(
        MESSAGES.c.id == bindparam("leaf_id")
    )
    path = start.cte("path", recursive=True)
    ancestor = MESSAGES.alias("ancestor")
    return path.union_all(
        select(*(ancestor.c[name] for name in columns), (path.c.depth + 1).label("depth")).where(
            ancestor.c.id == path.c.parent_id, path.c.depth + 1 < bindparam("limit")
        )
    )


_PATH_ROW_COLUMNS = ("id", "parent_id", "seq", "role", "content", "status", "path_tokens")
_PATH = path_upwards(*_PATH_ROW_COLUMNS)
_PATH_TAIL = select(*(_PATH.c[name] for name in _PATH_ROW_COLUMNS)).order_by(_PATH.c.seq.desc())
_PATH_IDS = path_upwards("id", "parent_id", "seq")
_PATH_LENGTH = select(func.count()).select_from(_PATH_IDS)


def find_session(conn: Connection, *, session_id: str, owner: str | None) -> SessionRow | None:
    """The session if `owner` owns it; `owner=None` (an admin) sees every session."""
    if owner is None:
        row = conn.execute(_FIND_SESSION, {"session_id": session_id}).first()
    else:
        row = conn.execute(_FIND_OWNED_SESSION, {"session_id": session_id, "owner": owner}).first()
    return (
        None
        if row is None
        else SessionRow(row.id, row.persona_id, row.traits or {}, row.active_leaf_id)
    )


def find_session_by_client_ref(
    conn: Connection, *, owner: str, client_ref: str
) -> SessionRow | None:
    """The owner's session a client names by its own reference (OpenAI's `user`)."""
    row = conn.execute(_FIND_CLIENT_REF_SESSION, {"owner": owner, "client_ref": client_ref}).first()
    return (
        None
        if row is None
        else SessionRow(row.id, row.persona_id, row.traits or {}, row.active_leaf_id)
    )


def session_exists(conn: Connection, *, session_id: str) -> bool:
    """Whether any owner has a session of that id."""
    return find_session(conn, session_id=session_id, owner=None) is not None


def create_session_if_absent(
    conn: Connection,
    *,
    owner: str,
    persona_id: str | None,
    traits: Mapping[str, int],
    title: str | None,
    session_id: str | None = None,
    client_ref: str | None = None,
) -> str | None:
    """A new, empty session (under `session_id` when given); returns its id, or None
    when a session of that id, or of that owner's `client_ref`, already exists (whoever
    owns it: nothing is changed)."""
    session_id, now = session_id or new_id(), utcnow()
    values = {
        "id": session_id,
        "owner": owner,
        "persona_id": persona_id,
        "title": title,
        "client_ref": client_ref,
        "traits": dict(traits),
        "next_seq": 0,
        "message_count": 0,
        "active_leaf_id": None,
        "created_at": now,
        "updated_at": now,
    }
    insert_new = (
        postgresql_insert(SESSIONS)
        if conn.dialect.name == "postgresql"
        else sqlite_insert(SESSIONS)
    )
    # No conflict target: the id and the owner's client_ref are both unique.
    statement = insert_new.values(values).on_conflict_do_nothing()
    inserted = conn.execute(statement.returning(SESSIONS.c.id)).first()
    return None if inserted is None else session_id


def create_session(
    conn: Connection,
    *,
    owner: str,
    persona_id: str | None,
    traits: Mapping[str, int],
    title: str | None,
) -> str:
    """A new, empty session; returns its id."""
    session_id = create_session_if_absent(
        conn, owner=owner, persona_id=persona_id, traits=traits, title=title
    )
    assert session_id is not None  # a fresh uuid4 is taken by no session
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
    parent_id: ParentChoice,
    role: MessageRole,
    content: str,
    content_tokens: int,
    status: MessageStatus = "complete",
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    model: str | None = None,
    finish_reason: str | None = None,
    message_id: str | None = None,
    created_at: datetime | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> AppendedMessage:
    """Store a message under `parent_id` and make it the session's active leaf.

    `parent_id`: a message of this session, None for a new root, or ACTIVE_LEAF (after
    the active leaf; a root when the session has none). Every stored message so lands
    on the active path. `content_tokens` is the caller's `estimate_message_tokens` of
    `content`: the message's `path_tokens` is its parent's plus that.
    The seq comes from one `UPDATE ... RETURNING` on the session row, so concurrent
    writers get distinct, consecutive numbers (the row stays locked until the caller's
    transaction ends, so the active leaf read with it is the one this message follows).
    `message_id` lets a caller announce an id before the message is stored;
    `created_at` (default now) lets it date the message from when it started.
    Raises `NotFoundError`: `session_not_found`, or `message_not_found` for a parent
    that is not a message of this session.
    """
    now = utcnow()
    allocated = conn.execute(_ALLOCATE_SEQ, {"session_id": session_id, "now": now}).first()
    if allocated is None:
        raise SessionNotFoundError(session_id)
    seq, active_path_length, active_leaf_id = allocated
    parent = active_leaf_id if isinstance(parent_id, ActiveLeaf) else parent_id
    parent_tokens = 0
    if parent is not None:
        found = find_message(conn, session_id=session_id, message_id=parent)
        if found is None:
            raise NotFoundError(f"no message '{parent}' in this session", code="message_not_found")
        parent_tokens = found.path_tokens
    if parent is None:
        path_length = 1
    elif parent == active_leaf_id:
        path_length = active_path_length + 1
    else:
        path_length = path_length_to(conn, leaf_id=parent) + 1
    message_id = message_id or new_id()
    path_tokens = parent_tokens + content_tokens
    conn.execute(
        _INSERT_MESSAGE,
        {
            "id": message_id,
            "session_id": session_id,
            "parent_id": parent,
            "seq": seq,
            "path_tokens": path_tokens,
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
    set_active_leaf(conn, session_id=session_id, leaf_id=message_id, path_length=path_length)
    return AppendedMessage(message_id, seq, path_length, now, parent, path_tokens)


def find_message(conn: Connection, *, session_id: str, message_id: str) -> MessageRef | None:
    """The message if it belongs to that session."""
    row = conn.execute(_FIND_MESSAGE, {"session_id": session_id, "message_id": message_id}).first()
    return None if row is None else MessageRef._make(row)


def set_active_leaf(
    conn: Connection, *, session_id: str, leaf_id: str | None, path_length: int
) -> None:
    """Make the path ending at `leaf_id` (a message of this session, `path_length` long)
    the session's active path."""
    conn.execute(
        _SET_ACTIVE_LEAF,
        {"session_id": session_id, "leaf_id": leaf_id, "path_length": path_length},
    )


def read_path_tail(conn: Connection, *, leaf_id: str, limit: int) -> list[PathRow]:
    """Up to `limit` messages of the path ending at `leaf_id`, NEWEST FIRST, following
    parent links (along a path, seq falls from the leaf to the root).

    Page backwards by passing the last row's `parent_id` as the next `leaf_id`; the path
    is read whole when a row's `parent_id` is None.
    """
    rows = conn.execute(_PATH_TAIL, {"leaf_id": leaf_id, "limit": limit}).all()
    return [PathRow._make(row) for row in rows]


def path_length_to(conn: Connection, *, leaf_id: str) -> int:
    """How many messages the path from the root to `leaf_id` holds."""
    return int(
        conn.execute(_PATH_LENGTH, {"leaf_id": leaf_id, "limit": LONGEST_PATH}).scalar() or 0
    )
