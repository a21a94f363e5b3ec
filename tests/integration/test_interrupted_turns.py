"""A turn a crash left unanswered reads as interrupted, and the next turn's context is
well formed: the orphan state is made through the real storage (a user message stored,
then its process gone), and read back through the API of a gateway started afterwards."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from functools import partial

from sqlalchemy import Connection

from tests.integration.conftest import GatewayFactory
from tests.integration.live_servers import ThreadedSimulator
from thinkingthoughts.access.bootstrap import BOOTSTRAP_OWNER
from thinkingthoughts.storage import turn_rows
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.migrate import upgrade_database_async

REQUEST_TIMEOUT = 5.0
SHORT_REQUEST_TIMEOUT = 0.5
"""Turns older than twice this are over; the gateway looks for them this often."""
MARKED_WITHIN_SECONDS = 15.0


def session_with_unanswered_question(conn: Connection, *, question: str, asked: timedelta) -> str:
    """A session as a turn leaves it between storing the user's message and the reply."""
    session_id = turn_rows.create_session(
        conn, owner=BOOTSTRAP_OWNER, persona_id=None, traits={}, title=question
    )
    turn_rows.append_message(
        conn,
        session_id=session_id,
        parent_id=turn_rows.ACTIVE_LEAF,
        content_tokens=1,
        role="assistant",
        content="Hi!",
    )
    turn_rows.append_message(
        conn,
        session_id=session_id,
        parent_id=turn_rows.ACTIVE_LEAF,
        content_tokens=1,
        role="user",
        content=question,
        created_at=utcnow() - asked,
    )
    return session_id


def crash_mid_turn(database_url: str) -> tuple[str, str]:
    """Two unanswered sessions, by a process that then goes: one asked an hour ago, one
    asked just now (as if another replica were still answering it)."""

    async def store() -> tuple[str, str]:
        await upgrade_database_async(database_url)
        database = Database(database_url)
        try:
            old = await database.run(
                partial(
                    session_with_unanswered_question, question="lost?", asked=timedelta(hours=1)
                )
            )
            young = await database.run(
                partial(session_with_unanswered_question, question="busy?", asked=timedelta())
            )
            return old, young
        finally:
            await database.dispose()

    return asyncio.run(store())


def test_a_turn_left_unanswered_by_a_crash_reads_as_interrupted_and_the_next_turn_alternates(
    database_url: str, gateway_factory: GatewayFactory, simulator: ThreadedSimulator
) -> None:
    old, young = crash_mid_turn(database_url)
    gateway = gateway_factory(llm_request_timeout=REQUEST_TIMEOUT)

    with gateway.client(gateway.admin_key) as client:
        messages = client.get(f"/api/sessions/{old}").json()["messages"]
        assert [(m["role"], m["content"], m["status"]) for m in messages] == [
            ("assistant", "Hi!", "complete"),
            ("user", "lost?", "complete"),
            ("assistant", "", "interrupted"),
        ]
        still_running = client.get(f"/api/sessions/{young}").json()["messages"]
        assert [m["role"] for m in still_running] == ["assistant", "user"]

        answered = client.post("/api/chat", json={"session_id": old, "message": "still there?"})
        assert answered.status_code == 200, answered.text

    sent = simulator.recorded_requests()[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "assistant", "user", "assistant", "user"]
    assert [m["content"] for m in sent[2:]] == ["lost?", "", "still there?"]


def test_a_second_start_adds_no_second_marker(
    database_url: str, gateway_factory: GatewayFactory
) -> None:
    old, _ = crash_mid_turn(database_url)
    first = gateway_factory(llm_request_timeout=REQUEST_TIMEOUT)
    second = gateway_factory(llm_request_timeout=REQUEST_TIMEOUT)

    with second.client(first.admin_key) as client:
        messages = client.get(f"/api/sessions/{old}").json()["messages"]
    assert [m["status"] for m in messages].count("interrupted") == 1


def test_a_turn_left_unanswered_while_gateways_run_is_marked_once_it_is_old_enough(
    database_url: str, gateway_factory: GatewayFactory
) -> None:
    """A replica restarted moments after a crash: at its start the turn is too young to
    mark, so it is marked later, while the gateway runs."""
    gateway = gateway_factory(llm_request_timeout=SHORT_REQUEST_TIMEOUT)
    _, young = crash_mid_turn(database_url)

    with gateway.client(gateway.admin_key) as client:
        deadline = time.monotonic() + MARKED_WITHIN_SECONDS
        while True:
            messages = client.get(f"/api/sessions/{young}").json()["messages"]
            if len(messages) > 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert [(m["role"], m["content"], m["status"]) for m in messages] == [
        ("assistant", "Hi!", "complete"),
        ("user", "busy?", "complete"),
        ("assistant", "", "interrupted"),
    ]
