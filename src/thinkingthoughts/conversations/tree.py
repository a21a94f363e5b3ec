"""A conversation as a tree: the active path or every message, each placed among its
siblings; choosing the active path; forking a path into a new session.

Siblings are the messages sharing a parent (the roots of a session share "none"),
ordered by seq. Selecting a message makes the active path run through it and on down,
at each step to the newest child, until a leaf. The functions run on a synchronous
`Connection` inside the caller's transaction (`Database.run`, or a session's connection).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from thinkingthoughts.errors import NotFoundError, SessionNotFoundError
from thinkingthoughts.storage import tree_rows, turn_rows
from thinkingthoughts.storage.tree_rows import SiblingRef, TreeMessage


@dataclass(frozen=True, slots=True)
class PlacedMessage:
    """A message and where it sits: its siblings' ids (its own included), by seq."""

    message: TreeMessage
    sibling_ids: tuple[str, ...]
    on_active_path: bool

    @property
    def sibling_index(self) -> int:
        return self.sibling_ids.index(self.message.id)

    @property
    def sibling_count(self) -> int:
        return len(self.sibling_ids)


@dataclass(frozen=True, slots=True)
class ConversationPage:
    messages: list[PlacedMessage]
    total: int
    """How many messages the whole listing holds (the active path's, or the tree's)."""


def placed(
    messages: Sequence[TreeMessage], siblings: Iterable[SiblingRef], active_ids: set[str]
) -> list[PlacedMessage]:
    """`messages`, each with the ids of its siblings (from `siblings`, which holds every
    child of their parents) and whether it is on the active path."""
    by_parent: dict[str | None, list[SiblingRef]] = defaultdict(list)
    for sibling in siblings:
        by_parent[sibling.parent_id].append(sibling)
    return [
        PlacedMessage(
            message=m,
            sibling_ids=tuple(s.id for s in sorted(by_parent[m.parent_id], key=lambda s: s.seq))
            or (m.id,),
            on_active_path=m.id in active_ids,
        )
        for m in messages
    ]


def read_active_path(
    conn: Connection, *, session_id: str, active_leaf_id: str | None, limit: int, offset: int
) -> ConversationPage:
    """One page of the active path, oldest first."""
    path = tree_rows.path_ids(conn, leaf_id=active_leaf_id)
    page = tree_rows.messages_by_id(conn, session_id=session_id, ids=path[offset : offset + limit])
    return ConversationPage(_place(conn, session_id, page, set(path)), len(path))


def read_tree(
    conn: Connection, *, session_id: str, active_leaf_id: str | None, limit: int, offset: int
) -> ConversationPage:
    """One page of every message of the session, by seq."""
    page = tree_rows.messages_page(conn, session_id=session_id, limit=limit, offset=offset)
    active = set(tree_rows.path_ids(conn, leaf_id=active_leaf_id))
    total = tree_rows.count_messages(conn, session_id=session_id)
    return ConversationPage(_place(conn, session_id, page, active), total)


def active_path(
    conn: Connection, *, session_id: str, active_leaf_id: str | None
) -> list[PlacedMessage]:
    """The whole active path, oldest first (for exports)."""
    path = tree_rows.path_ids(conn, leaf_id=active_leaf_id)
    page = tree_rows.messages_by_id(conn, session_id=session_id, ids=path)
    return _place(conn, session_id, page, set(path))


def alternatives(conn: Connection, *, session_id: str, message: PlacedMessage) -> list[TreeMessage]:
    """The message's siblings other than itself, by seq."""
    others = [i for i in message.sibling_ids if i != message.message.id]
    return tree_rows.messages_by_id(conn, session_id=session_id, ids=others)


def select_message(conn: Connection, *, session_id: str, owner: str, message_id: str) -> None:
    """Make the active path run through `message_id` and on to its newest leaf.

    Raises `NotFoundError`: `session_not_found` (not `owner`'s), `message_not_found`.
    """
    _owned(conn, session_id, owner)
    _message(conn, session_id, message_id)
    leaf = tree_rows.newest_leaf_below(conn, session_id=session_id, message_id=message_id)
    turn_rows.set_active_leaf(
        conn,
        session_id=session_id,
        leaf_id=leaf,
        path_length=turn_rows.path_length_to(conn, leaf_id=leaf),
    )


def fork_at(
    conn: Connection, *, session_id: str, owner: str, message_id: str, title: str | None
) -> str:
    """A new session of `owner`'s (same persona and traits, `title`) holding a copy of
    the path from the root to `message_id`; returns its id."""
    source = _owned(conn, session_id, owner)
    _message(conn, session_id, message_id)
    path = tree_rows.messages_by_id(
        conn, session_id=session_id, ids=tree_rows.path_ids(conn, leaf_id=message_id)
    )
    return tree_rows.copy_path(
        conn,
        owner=owner,
        persona_id=source.persona_id,
        traits=source.traits,
        title=title,
        path=path,
    )


def _place(
    conn: Connection, session_id: str, page: Sequence[TreeMessage], active: set[str]
) -> list[PlacedMessage]:
    parents = {m.parent_id for m in page}
    siblings = tree_rows.siblings_of(conn, session_id=session_id, parent_ids=parents)
    return placed(page, siblings, active)


def _owned(conn: Connection, session_id: str, owner: str) -> turn_rows.SessionRow:
    session = turn_rows.find_session(conn, session_id=session_id, owner=owner)
    if session is None:
        raise SessionNotFoundError(session_id)
    return session


def _message(conn: Connection, session_id: str, message_id: str) -> turn_rows.MessageRef:
    found = turn_rows.find_message(conn, session_id=session_id, message_id=message_id)
    if found is None:
        raise NotFoundError(f"no message '{message_id}' in this session", code="message_not_found")
    return found
