"""Reading a session's tree and copying a path of it, in SQLAlchemy Core on a synchronous
`Connection` (run through `Database.run`, or an ORM session's connection for reads).

A session's messages form a forest: `parent_id` NULL marks a root. The active path runs
from a root to the session's `active_leaf_id`. Functions never commit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, func, insert, or_, select

from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.models import MessageRole, MessageStatus, new_id
from thinkingthoughts.storage.turn_rows import (
    LONGEST_PATH,
    MESSAGES,
    SESSIONS,
    create_session_if_absent,
    path_upwards,
    set_active_leaf,
)


class TreeMessage(NamedTuple):
    """A stored message with its place in the tree."""

    id: str
    parent_id: str | None
    seq: int
    role: MessageRole
    content: str
    status: MessageStatus
    path_tokens: int
    model: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    tool_calls: list[dict[str, Any]] | None
    created_at: datetime
    completed_at: datetime | None


class SiblingRef(NamedTuple):
    id: str
    parent_id: str | None
    seq: int


_MESSAGE_COLUMNS = [MESSAGES.c[name] for name in TreeMessage._fields]
_PATH_IDS = path_upwards("id", "parent_id", "seq")
_PATH_IDS_OLDEST_FIRST = select(_PATH_IDS.c.id).order_by(_PATH_IDS.c.seq)
_NEWEST_CHILD = (
    select(MESSAGES.c.id)
    .where(
        MESSAGES.c.session_id == bindparam("session_id"),
        MESSAGES.c.parent_id == bindparam("parent_id"),
    )
    .order_by(MESSAGES.c.seq.desc())
    .limit(1)
)
_COUNT_MESSAGES = select(func.count()).where(MESSAGES.c.session_id == bindparam("session_id"))


def path_ids(conn: Connection, *, leaf_id: str | None) -> list[str]:
    """The ids of the path from its root to `leaf_id`, oldest first ([] for None)."""
    if leaf_id is None:
        return []
    rows = conn.execute(_PATH_IDS_OLDEST_FIRST, {"leaf_id": leaf_id, "limit": LONGEST_PATH})
    return list(rows.scalars())


def messages_by_id(conn: Connection, *, session_id: str, ids: Sequence[str]) -> list[TreeMessage]:
    """The messages of `ids` (of that session), in the order of `ids`."""
    if not ids:
        return []
    rows = conn.execute(
        select(*_MESSAGE_COLUMNS).where(MESSAGES.c.session_id == session_id, MESSAGES.c.id.in_(ids))
    ).all()
    by_id = {row.id: TreeMessage._make(row) for row in rows}
    return [by_id[message_id] for message_id in ids if message_id in by_id]


def messages_page(
    conn: Connection, *, session_id: str, limit: int, offset: int
) -> list[TreeMessage]:
    """One page of every message of the session, by seq (insertion order)."""
    rows = conn.execute(
        select(*_MESSAGE_COLUMNS)
        .where(MESSAGES.c.session_id == session_id)
        .order_by(MESSAGES.c.seq)
        .limit(limit)
        .offset(offset)
    ).all()
    return [TreeMessage._make(row) for row in rows]


def count_messages(conn: Connection, *, session_id: str) -> int:
    """How many messages the session stores, on every branch."""
    return int(conn.execute(_COUNT_MESSAGES, {"session_id": session_id}).scalar() or 0)


def siblings_of(
    conn: Connection, *, session_id: str, parent_ids: Collection[str | None]
) -> list[SiblingRef]:
    """Every message whose parent is one of `parent_ids` (None: the session's roots),
    by seq."""
    parents = [p for p in parent_ids if p is not None]
    conditions = []
    if parents:
        conditions.append(MESSAGES.c.parent_id.in_(parents))
    if None in parent_ids:
        conditions.append(MESSAGES.c.parent_id.is_(None))
    if not conditions:
        return []
    rows = conn.execute(
        select(MESSAGES.c.id, MESSAGES.c.parent_id, MESSAGES.c.seq)
        .where(MESSAGES.c.session_id == session_id, or_(*conditions))
        .order_by(MESSAGES.c.seq)
    ).all()
    return [SiblingRef._make(row) for row in rows]


def newest_leaf_below(conn: Connection, *, session_id: str, message_id: str) -> str:
    """The leaf reached from `message_id` by taking, at each step, the newest child."""
    leaf = message_id
    while (
        child := conn.execute(_NEWEST_CHILD, {"session_id": session_id, "parent_id": leaf})
        .scalars()
        .first()
    ) is not None:
        leaf = child
    return leaf


def copy_path(
    conn: Connection,
    *,
    owner: str,
    persona_id: str | None,
    traits: dict[str, int],
    title: str | None,
    path: Sequence[TreeMessage],
) -> str:
    """A new session of `owner`'s whose messages are copies (new ids, seq from 1) of
    `path`, a root-to-leaf path, as one line; returns its id."""
    session_id = create_session_if_absent(
        conn, owner=owner, persona_id=persona_id, traits=traits, title=title
    )
    assert session_id is not None  # a fresh uuid4 is taken by no session
    now, parent_id, rows = utcnow(), None, []
    for seq, message in enumerate(path, start=1):
        copy_id = new_id()
        rows.append(
            {
                **message._asdict(),
                "id": copy_id,
                "session_id": session_id,
                "parent_id": parent_id,
                "seq": seq,
            }
        )
        parent_id = copy_id
    if rows:
        conn.execute(insert(MESSAGES), rows)
    conn.execute(
        SESSIONS.update()
        .where(SESSIONS.c.id == session_id)
        .values(next_seq=len(rows), updated_at=now)
    )
    set_active_leaf(conn, session_id=session_id, leaf_id=parent_id, path_length=len(rows))
    return session_id
