"""What a stored chat turn writes before the upstream call, and the history it sends:
one synchronous function, run as one transaction by `Database.run`.

A turn's messages go under the parent the request names (`ROOT` for a new root), else
after the session's active leaf, and each becomes the active leaf as it is stored; the
history is read along that path, so the upstream always receives the active path. A
regenerated turn stores nothing new before the call: its reply will be one more child
of the user message it answers (a sibling of the earlier replies, which stay).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from thinkingthoughts.context.eviction import history_window
from thinkingthoughts.context.tokens import estimate_message_tokens
from thinkingthoughts.engine.turn import TurnMessage
from thinkingthoughts.errors import BadRequestError, NotFoundError, SessionNotFoundError
from thinkingthoughts.storage import turn_rows

ROOT = "root"
"""The `parent_id` that makes the first new message a root (edits a first message)."""
FIRST_HISTORY_PAGE = 64
LAST_HISTORY_PAGE = 1024
SENDABLE_STATUSES = frozenset({"complete", "interrupted"})
TITLE_LENGTH = 60


@dataclass(frozen=True, slots=True)
class TurnWrite:
    """A turn to store: in `session` (None: a new one for `owner`), with this persona
    and these explicit trait levels, then the history tail that fits `budget`."""

    owner: str
    session: turn_rows.SessionRow | None
    persona_id: str
    greeting: str | None
    traits: Mapping[str, int]
    messages: Sequence[TurnMessage]
    regenerate: bool
    system_prompt: str
    budget: int
    parent_id: str | None = None
    """The first new message's parent (ROOT: none); None continues the active leaf.
    With `regenerate`, the user message to answer again."""
    new_session_id: str | None = None
    """The id a session made by this turn gets (a client's own); None: a fresh one."""


@dataclass(frozen=True, slots=True)
class StoredTurn:
    session_id: str
    history: list[dict[str, Any]]
    """The stored messages that go upstream after the system prompt, oldest first."""
    user_message_id: str | None
    """The last user message this turn stored, or the one a regenerate answers."""
    reply_parent_id: str | None
    """The message the reply goes under: the last one stored, or the one answered."""


def store_turn(conn: Connection, write: TurnWrite) -> StoredTurn:
    """Store the user's side of the turn and read back the history that fits."""
    session_id = _session_for(conn, write)
    user_message_id: str | None
    leaf: str | None
    if write.regenerate:
        answered = _message_to_answer_again(conn, session_id, write.parent_id)
        turn_rows.set_active_leaf(
            conn,
            session_id=session_id,
            leaf_id=answered,
            path_length=turn_rows.path_length_to(conn, leaf_id=answered),
        )
        user_message_id, leaf = answered, answered
    else:
        parent = _first_parent(write.parent_id)
        user_message_id, leaf = _append_messages(conn, session_id, parent, write.messages)
    history = history_tail(conn, leaf, write.system_prompt, write.budget)
    return StoredTurn(session_id, history, user_message_id, leaf)


def planned_prompt(conn: Connection, write: TurnWrite) -> list[dict[str, Any]]:
    """The prompt a turn will send, read before anything is written (for admission):
    the system prompt, the stored history that fits (a new session's greeting), then the
    new messages. Errs high: the stored turn's own tail is fitted to the budget again."""
    if write.session is not None:
        leaf = _planned_leaf(conn, write)
        history = history_tail(conn, leaf, write.system_prompt, write.budget)
    else:
        history = [{"role": "assistant", "content": write.greeting}] if write.greeting else []
    new = [{"role": m.role, "content": m.content} for m in write.messages]
    return [{"role": "system", "content": write.system_prompt}, *history, *new]


def _planned_leaf(conn: Connection, write: TurnWrite) -> str | None:
    assert write.session is not None
    if write.regenerate:
        return _message_to_answer_again(conn, write.session.id, write.parent_id)
    if write.parent_id is None:
        return write.session.active_leaf_id
    if write.parent_id == ROOT:
        return None
    return _require_message(conn, write.session.id, write.parent_id).id


def _first_parent(parent_id: str | None) -> turn_rows.ParentChoice:
    if parent_id is None:
        return turn_rows.ACTIVE_LEAF  # in a new session: after its greeting, if any
    return None if parent_id == ROOT else parent_id


def _append_messages(
    conn: Connection,
    session_id: str,
    parent: turn_rows.ParentChoice,
    messages: Sequence[TurnMessage],
) -> tuple[str | None, str | None]:
    """Store `messages` as a chain under `parent`; the last user message's id and the
    last message's (None, None when there are none)."""
    user_message_id: str | None = None
    last: str | None = None
    for message in messages:
        stored = turn_rows.append_message(
            conn,
            session_id=session_id,
            parent_id=parent,
            role=message.role,
            content=message.content,
            content_tokens=estimate_message_tokens(message.content),
        )
        parent = last = stored.id
        if message.role == "user":
            user_message_id = stored.id
    return user_message_id, last


def _message_to_answer_again(conn: Connection, session_id: str, parent_id: str | None) -> str:
    """The user message a regenerate answers: the one named, else the active leaf's
    (the leaf itself when it is a user message, its parent when it is a reply)."""
    if parent_id is not None and parent_id != ROOT:
        named = _require_message(conn, session_id, parent_id)
        if named.role == "user":
            return named.id
    elif parent_id is None:
        session = turn_rows.find_session(conn, session_id=session_id, owner=None)
        if session is None:
            raise SessionNotFoundError(session_id)
        leaf = _leaf_message(conn, session_id, session.active_leaf_id)
        if leaf is not None and leaf.role != "user" and leaf.parent_id is not None:
            leaf = _leaf_message(conn, session_id, leaf.parent_id)
        if leaf is not None and leaf.role == "user":
            return leaf.id
    raise BadRequestError(
        "there is no message of yours here to answer again", code="nothing_to_regenerate"
    )


def _leaf_message(
    conn: Connection, session_id: str, message_id: str | None
) -> turn_rows.MessageRef | None:
    if message_id is None:
        return None
    return turn_rows.find_message(conn, session_id=session_id, message_id=message_id)


def _require_message(conn: Connection, session_id: str, message_id: str) -> turn_rows.MessageRef:
    found = turn_rows.find_message(conn, session_id=session_id, message_id=message_id)
    if found is None:
        raise NotFoundError(f"no message '{message_id}' in this session", code="message_not_found")
    return found


def _session_for(conn: Connection, write: TurnWrite) -> str:
    """The turn's session: the one found, else a new one (under the client's id)."""
    traits = dict(write.traits)
    stored = write.session
    if stored is None:
        first_user = next((m.content for m in write.messages if m.role == "user"), "")
        session_id = turn_rows.create_session_if_absent(
            conn,
            owner=write.owner,
            persona_id=write.persona_id,
            traits=traits,
            title=session_title(first_user),
            session_id=write.new_session_id,
        )
        if session_id is not None:
            if write.greeting:
                turn_rows.append_message(
                    conn,
                    session_id=session_id,
                    parent_id=None,
                    role="assistant",
                    content=write.greeting,
                    content_tokens=estimate_message_tokens(write.greeting),
                )
            return session_id
        # A concurrent first turn with the same client-chosen id made it meanwhile.
        assert write.new_session_id is not None
        stored = turn_rows.find_session(conn, session_id=write.new_session_id, owner=write.owner)
        if stored is None:
            raise SessionNotFoundError(write.new_session_id)
    # Only what this turn changes: a concurrent turn's other change is not undone.
    if stored.persona_id != write.persona_id:
        turn_rows.set_session_persona(conn, session_id=stored.id, persona_id=write.persona_id)
    if stored.traits != traits:
        turn_rows.set_session_traits(conn, session_id=stored.id, traits=traits)
    return stored.id


def history_tail(
    conn: Connection, leaf_id: str | None, system_prompt: str, budget: int
) -> list[dict[str, Any]]:
    """The history that goes upstream: the window of the path ending at `leaf_id` that
    `context.eviction` chooses for the room the system prompt leaves in `budget`.

    The window starts at a whole number of chunks of path tokens, so while the
    conversation grows within a chunk each turn's history extends the previous turn's
    (an inference server's prefix cache reuses it), and it depends on the stored
    messages only (every replica sends the same). The newest message always goes, even
    when the estimate says it does not fit (the exact check decides later).
    """
    room = budget - estimate_message_tokens(system_prompt)
    kept = history_window(
        _sendable_path(conn, leaf_id),
        path_tokens=lambda row: row.path_tokens,
        tokens=lambda row: estimate_message_tokens(row.content),
        room=room,
    )
    return [{"role": r.role, "content": r.content} for r in reversed(kept)]


def _sendable_path(conn: Connection, leaf_id: str | None) -> Iterator[turn_rows.PathRow]:
    """The path's messages that can be sent, newest first, read page by page from the leaf
    only as far as the caller goes (each page twice the last, so a long conversation
    takes few reads). An interrupted reply that said nothing still goes, empty: the roles
    then keep alternating after a turn that was never answered."""
    page_size = FIRST_HISTORY_PAGE
    while leaf_id is not None:
        page = turn_rows.read_path_tail(conn, leaf_id=leaf_id, limit=page_size)
        for row in page:
            if row.status in SENDABLE_STATUSES and (row.content or row.role == "assistant"):
                yield row
        if len(page) < page_size:
            return
        leaf_id = page[-1].parent_id
        page_size = min(page_size * 2, LAST_HISTORY_PAGE)


def session_title(text: str) -> str | None:
    """A session's title from its first user message: one line, at most TITLE_LENGTH."""
    line = " ".join(text.split())
    if not line:
        return None
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"
