"""On SQLite the write transactions of one process take turns; on PostgreSQL they run
side by side (its row locks are enough)."""

from __future__ import annotations

import asyncio
import threading
import time
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.exc import StatementError

from thinkingthoughts.engine.persist import TurnWrite, store_turn
from thinkingthoughts.errors import ConcurrentChangeError, NotFoundError
from thinkingthoughts.storage import turn_rows
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import Persona


@pytest.mark.parametrize("second", ["transaction", "run"])
async def test_a_second_writer_waits_for_an_open_transaction_on_sqlite_only(
    database: Database, second: str
) -> None:
    inside: list[str] = []
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with database.transaction():
            inside.append("first")
            holding.set()
            await release.wait()

    async def write_second() -> None:
        if second == "run":
            await database.run(lambda _: inside.append("second"))
            return
        async with database.transaction():
            inside.append("second")

    holder = asyncio.create_task(hold())
    await holding.wait()
    waiting = asyncio.create_task(write_second())
    if database.is_sqlite:
        # Proving that it waits takes a wait: long enough for a writer that does not.
        await asyncio.sleep(0.1)
        assert inside == ["first"]
    else:
        # PostgreSQL's writers do not queue: the second finishes while the first holds.
        await asyncio.wait_for(asyncio.shield(waiting), timeout=10)
        assert inside == ["first", "second"]
    release.set()
    await asyncio.gather(holder, waiting)
    assert inside == ["first", "second"]


async def test_run_commits_what_its_work_wrote(database: Database) -> None:
    session_id = await _new_session(database)

    appended = await database.run(
        partial(
            turn_rows.append_message,
            session_id=session_id,
            parent_id=turn_rows.ACTIVE_LEAF,
            content_tokens=1,
            role="user",
            content="hello",
        )
    )

    tail = await database.run(partial(turn_rows.read_path_tail, leaf_id=appended.id, limit=5))
    assert [(row.seq, row.content) for row in tail] == [(appended.seq, "hello")]


async def test_run_keeps_nothing_of_work_that_fails_halfway(database: Database) -> None:
    session_id = await _new_session(database)

    def append_then_fail(connection: Connection) -> None:
        turn_rows.append_message(
            connection,
            session_id=session_id,
            parent_id=turn_rows.ACTIVE_LEAF,
            content_tokens=1,
            role="user",
            content="lost",
        )
        raise RuntimeError("failed after the first write")

    with pytest.raises(RuntimeError, match="after the first write"):
        await database.run(append_then_fail)

    assert await database.run(partial(_counts, session_id=session_id)) == (0, 0)


async def test_run_finishes_its_transaction_when_the_caller_is_cancelled(
    database: Database,
) -> None:
    session_id = await _new_session(database)
    started = threading.Event()

    def slow_append(connection: Connection) -> None:
        started.set()
        time.sleep(0.2)
        turn_rows.append_message(
            connection,
            session_id=session_id,
            parent_id=turn_rows.ACTIVE_LEAF,
            content_tokens=1,
            role="user",
            content="kept",
        )

    caller = asyncio.create_task(database.run(slow_append))
    await asyncio.to_thread(started.wait, 5)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller

    if database.is_sqlite:
        # The next transaction waits for the cancelled one: its message is there, complete.
        assert await database.run(partial(_counts, session_id=session_id)) == (1, 1)
        return
    # PostgreSQL runs transactions side by side: the cancelled one commits a moment later.
    for _ in range(50):
        if await database.run(partial(_counts, session_id=session_id)) == (1, 1):
            return
        await asyncio.sleep(0.1)
    pytest.fail("the transaction of a cancelled caller was not committed")


async def test_a_run_after_dispose_is_refused(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'closed.db'}")
    await database.dispose()
    with pytest.raises(RuntimeError, match="closed"):
        await database.run(lambda _: None)


async def test_regenerating_in_a_session_deleted_meanwhile_is_not_found(
    database: Database,
) -> None:
    session_id = await _new_session(database)
    stale = turn_rows.SessionRow(session_id, None, {})
    await database.run(
        lambda c: c.execute(delete(turn_rows.SESSIONS).where(turn_rows.SESSIONS.c.id == session_id))
    )
    write = TurnWrite(owner="alice", session=stale, persona_id="p", greeting=None, traits={},
                      messages=(), regenerate=True, system_prompt="s", budget=1000)  # fmt: skip

    with pytest.raises(NotFoundError):
        await database.run(partial(store_turn, write=write))


async def _new_session(database: Database) -> str:
    return await database.run(
        partial(turn_rows.create_session, owner="alice", persona_id=None, traits={}, title=None)
    )


def _counts(connection: Connection, *, session_id: str) -> tuple[int, int]:
    """(messages stored, the session's message_count)."""
    stored = connection.execute(
        select(func.count()).where(turn_rows.MESSAGES.c.session_id == session_id)
    ).scalar_one()
    counted = connection.execute(
        select(turn_rows.SESSIONS.c.message_count).where(turn_rows.SESSIONS.c.id == session_id)
    ).scalar_one()
    return stored, counted


async def test_a_transaction_starts_after_the_runs_submitted_before_it(
    database: Database,
) -> None:
    inside: list[str] = []
    started = threading.Event()

    def slow(_: Connection) -> None:
        started.set()
        time.sleep(0.2)
        inside.append("run")

    runner = asyncio.create_task(database.run(slow))
    await asyncio.to_thread(started.wait, 5)
    async with database.transaction():
        inside.append("transaction")
    await runner

    assert inside == ["run", "transaction"]


async def test_statement_errors_leave_message_contents_out(database: Database) -> None:
    session_id = await _new_session(database)
    secret = "my-private-words-4e1b"

    with pytest.raises(ConcurrentChangeError) as failure:  # "narrator" breaks the role check
        await database.run(partial(turn_rows.append_message, session_id=session_id,
                                   parent_id=turn_rows.ACTIVE_LEAF, content_tokens=1,
                                   role="narrator", content=secret))  # type: ignore[arg-type]  # fmt: skip

    # Storage speaks in a domain error; the database's own error it was made from (kept
    # as the cause, for the logs) names no message content either.
    assert isinstance(failure.value.__cause__, StatementError)
    assert secret not in str(failure.value)
    assert secret not in str(failure.value.__cause__)
    assert await database.run(partial(_counts, session_id=session_id)) == (0, 0)


async def test_a_failure_of_a_transaction_whose_caller_left_is_logged(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    started = threading.Event()

    def slow_failure(_: Connection) -> None:
        started.set()
        time.sleep(0.2)
        raise RuntimeError("failed after the caller left")

    caller = asyncio.create_task(database.run(slow_failure))
    await asyncio.to_thread(started.wait, 5)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    for _ in range(50):
        if caplog.records:
            break
        await asyncio.sleep(0.1)

    [record] = [r for r in caplog.records if r.name == "thinkingthoughts.storage.database"]
    assert record.getMessage() == "a transaction whose caller had gone failed"
    assert "failed after the caller left" in str(record.exc_info[1] if record.exc_info else "")


async def test_a_turn_writes_only_the_session_setting_it_changes(database: Database) -> None:
    """Another turn switched the persona after this one read the session: this turn
    changes only the traits, and the other's persona stays."""
    await database.run(_add_personas)
    session_id = await database.run(
        partial(turn_rows.create_session, owner="alice", persona_id="p-old", traits={}, title=None)
    )
    read_before_the_switch = turn_rows.SessionRow(session_id, "p-old", {})
    await database.run(partial(turn_rows.set_session_persona, session_id=session_id,
                               persona_id="p-new"))  # fmt: skip
    write = TurnWrite(owner="alice", session=read_before_the_switch, persona_id="p-old",
                      greeting=None, traits={"warmth": 4}, messages=(), regenerate=False,
                      system_prompt="s", budget=1000)  # fmt: skip

    await database.run(partial(store_turn, write=write))

    stored = await database.run(
        partial(turn_rows.find_session, session_id=session_id, owner="alice")
    )
    assert stored == turn_rows.SessionRow(session_id, "p-new", {"warmth": 4})


def _add_personas(connection: Connection) -> None:
    now = utcnow()
    for persona_id in ("p-old", "p-new"):
        connection.execute(
            insert(Persona),
            {"id": persona_id, "slug": persona_id, "name": persona_id, "sheet": {},
             "version": 1, "owner": None, "created_at": now, "updated_at": now},
        )  # fmt: skip
