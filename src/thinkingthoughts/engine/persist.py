"""What a stored chat turn writes before the upstream call, and the history it sends:
one synchronous function, run as one transaction by `Database.run`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from thinkingthoughts.context.budget import count_fitting_history
from thinkingthoughts.context.tokens import estimate_message_tokens
from thinkingthoughts.engine.turn import TurnMessage
from thinkingthoughts.errors import InvalidRequestError, NotFoundError
from thinkingthoughts.storage import turn_rows

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


@dataclass(frozen=True, slots=True)
class StoredTurn:
    session_id: str
    history: list[dict[str, Any]]
    """The stored messages that go upstream after the system prompt, oldest first."""


def store_turn(conn: Connection, write: TurnWrite) -> StoredTurn:
    """Store the user's side of the turn and read back the history that fits."""
    session_id = _session_for(conn, write)
    if write.regenerate:
        _drop_replies_to_regenerate(conn, session_id)
    for message in write.messages:
        turn_rows.append_message(
            conn, session_id=session_id, role=message.role, content=message.content
        )
    history = history_tail(conn, session_id, write.system_prompt, write.budget)
    return StoredTurn(session_id, history)


def planned_prompt(conn: Connection, write: TurnWrite) -> list[dict[str, Any]]:
    """The prompt a turn will send, read before anything is written (for admission):
    the system prompt, the stored history that fits (a new session's greeting), then the
    new messages. Errs high: the stored turn's own tail is fitted to the budget again."""
    if write.session is not None:
        history = history_tail(conn, write.session.id, write.system_prompt, write.budget)
    else:
        history = [{"role": "assistant", "content": write.greeting}] if write.greeting else []
    new = [{"role": m.role, "content": m.content} for m in write.messages]
    return [{"role": "system", "content": write.system_prompt}, *history, *new]


def _drop_replies_to_regenerate(conn: Connection, session_id: str) -> None:
    if turn_rows.drop_replies_after_last_user(conn, session_id=session_id) is not None:
        return
    if turn_rows.find_session(conn, session_id=session_id, owner=None) is None:
        raise NotFoundError(f"no session '{session_id}'", code="session_not_found")
    raise InvalidRequestError(
        "this conversation has no message of yours to answer again",
        code="nothing_to_regenerate",
    )


def _session_for(conn: Connection, write: TurnWrite) -> str:
    traits = dict(write.traits)
    if write.session is None:
        first_user = next((m.content for m in write.messages if m.role == "user"), "")
        session_id = turn_rows.create_session(
            conn,
            owner=write.owner,
            persona_id=write.persona_id,
            traits=traits,
            title=session_title(first_user),
        )
        if write.greeting:
            turn_rows.append_message(
                conn, session_id=session_id, role="assistant", content=write.greeting
            )
        return session_id
    # Only what this turn changes: a concurrent turn's other change is not undone.
    stored = write.session
    if stored.persona_id != write.persona_id:
        turn_rows.set_session_persona(conn, session_id=stored.id, persona_id=write.persona_id)
    if stored.traits != traits:
        turn_rows.set_session_traits(conn, session_id=stored.id, traits=traits)
    return stored.id


def history_tail(
    conn: Connection, session_id: str, system_prompt: str, budget: int
) -> list[dict[str, Any]]:
    """The newest stored messages that fit, read page by page from the end (each page
    twice the last, so a long conversation takes few reads).

    The newest message always goes, even when the estimate says it does not fit
    (the exact check decides later); after it, the tail stops at the first misfit.
    """
    used = estimate_message_tokens(system_prompt)
    kept: list[turn_rows.HistoryRow] = []
    before_seq: int | None = None
    page_size = FIRST_HISTORY_PAGE
    while True:
        page = turn_rows.read_history_tail(
            conn, session_id=session_id, limit=page_size, before_seq=before_seq
        )
        # An interrupted reply that said nothing still goes, empty: the roles then keep
        # alternating after a turn that was never answered.
        sendable = [
            r
            for r in page
            if r.status in SENDABLE_STATUSES and (r.content or r.role == "assistant")
        ]
        tokens = [estimate_message_tokens(r.content) for r in sendable]
        fitting = count_fitting_history(
            fixed_tokens=used, history_tokens_newest_first=tokens, budget=budget
        )
        if not kept and sendable:
            fitting = max(fitting, 1)
        kept += sendable[:fitting]
        used += sum(tokens[:fitting])
        if fitting < len(sendable) or len(page) < page_size:
            return [{"role": r.role, "content": r.content} for r in reversed(kept)]
        before_seq = page[-1].seq
        page_size = min(page_size * 2, LAST_HISTORY_PAGE)


def session_title(text: str) -> str | None:
    """A session's title from its first user message: one line, at most TITLE_LENGTH."""
    line = " ".join(text.split())
    if not line:
        return None
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"
