"""The history a turn sends: the newest stored messages that fit, oldest first, read in
pages that grow, so that long conversations take few reads."""

from __future__ import annotations

from functools import partial

from sqlalchemy import Connection

from thinkingthoughts.context.tokens import estimate_message_tokens
from thinkingthoughts.engine.persist import FIRST_HISTORY_PAGE, history_tail
from thinkingthoughts.storage import turn_rows
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import MessageStatus

SYSTEM = "You are a test persona."


def _fill(conn: Connection, count: int) -> str:
    """A session of `count` messages; returns the last one's id (the active leaf)."""
    session_id = turn_rows.create_session(conn, owner="o", persona_id=None, traits={}, title=None)
    for n in range(count):
        status: MessageStatus = (
            "error" if n % 50 == 7 else "complete"
        )  # failed replies are never sent
        leaf = turn_rows.append_message(
            conn,
            session_id=session_id,
            parent_id=turn_rows.ACTIVE_LEAF,
            content_tokens=1,
            role="user",
            content=f"line {n}",
            status=status,
        ).id
    return leaf


async def test_a_long_history_that_fits_is_sent_whole_in_order(database: Database) -> None:
    count = FIRST_HISTORY_PAGE * 5  # more than one page, and more than two
    leaf_id = await database.run(partial(_fill, count=count))

    sent = await database.run(partial(history_tail, leaf_id=leaf_id,
                                      system_prompt=SYSTEM, budget=10**6))  # fmt: skip

    expected = [f"line {n}" for n in range(count) if n % 50 != 7]
    assert [m["content"] for m in sent] == expected


async def test_the_tail_stops_at_the_budget(database: Database) -> None:
    leaf_id = await database.run(partial(_fill, count=FIRST_HISTORY_PAGE * 3))
    per_message = estimate_message_tokens("line 100")
    budget = estimate_message_tokens(SYSTEM) + 100 * per_message

    sent = await database.run(partial(history_tail, leaf_id=leaf_id,
                                      system_prompt=SYSTEM, budget=budget))  # fmt: skip

    assert 90 <= len(sent) <= 100
    assert sent[-1]["content"] == f"line {FIRST_HISTORY_PAGE * 3 - 1}"
    total = sum(estimate_message_tokens(m["content"]) for m in sent)
    assert total + estimate_message_tokens(SYSTEM) <= budget
