from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

import pytest
from sqlalchemy import Connection, text

from thinkingthoughts.errors import NotFoundError
from thinkingthoughts.storage import message_store, session_store, turn_rows
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import MessageRole
from thinkingthoughts.storage.turn_rows import AppendedMessage


async def _new_session(database: Database, owner: str = "alice") -> str:
    async with database.session() as db, db.begin():
        session = await session_store.create_session(db, owner=owner, persona_id=None, traits={})
    return session.id


def _append_to_active_leaf(
    session_id: str, content: str
) -> Callable[[Connection], AppendedMessage]:
    """A unit of work storing `content` after the session's active leaf."""
    role: MessageRole = "user" if content.startswith("u") else "assistant"
    return partial(
        turn_rows.append_message,
        session_id=session_id,
        parent_id=turn_rows.ACTIVE_LEAF,
        role=role,
        content=content,
        content_tokens=1,
    )


async def _append(database: Database, session_id: str, content: str) -> int:
    message = await database.run(_append_to_active_leaf(session_id, content))
    return message.seq


class _AbandonedError(Exception):
    """Raised inside a unit of work to roll it back."""


async def test_appends_number_messages_from_one(database: Database) -> None:
    session_id = await _new_session(database)

    seqs = [await _append(database, session_id, f"u{n}") for n in range(3)]

    assert seqs == [1, 2, 3]


async def test_sequences_are_per_session(database: Database) -> None:
    first, second = await _new_session(database), await _new_session(database)

    assert await _append(database, first, "u") == 1
    assert await _append(database, second, "u") == 1
    assert await _append(database, first, "a") == 2


async def test_append_stores_every_field(database: Database) -> None:
    session_id = await _new_session(database)

    appended = await database.run(
        partial(
            turn_rows.append_message,
            session_id=session_id,
            parent_id=turn_rows.ACTIVE_LEAF,
            content_tokens=1,
            role="assistant",
            content="Partial answer",
            status="interrupted",
            prompt_tokens=120,
            completion_tokens=7,
            model="demo-model",
            finish_reason="length",
            message_id="00000000-0000-4000-8000-000000000001",
        )
    )

    async with database.session() as db:
        [stored] = await message_store.list_messages(db, session_id=session_id, limit=10)

    assert stored.id == appended.id == "00000000-0000-4000-8000-000000000001"
    assert (stored.role, stored.content, stored.status) == (
        "assistant",
        "Partial answer",
        "interrupted",
    )
    assert (stored.prompt_tokens, stored.completion_tokens) == (120, 7)
    assert (stored.model, stored.finish_reason) == ("demo-model", "length")
    assert stored.completed_at is not None
    assert stored.completed_at >= stored.created_at


async def test_append_counts_the_message_and_marks_activity(database: Database) -> None:
    session_id = await _new_session(database)

    async with database.session() as db:
        created = await session_store.get_session(db, session_id=session_id, owner="alice")
    assert created is not None

    appended = await database.run(_append_to_active_leaf(session_id, "u"))

    async with database.session() as db:
        stored = await session_store.get_session(db, session_id=session_id, owner="alice")
    assert stored is not None
    assert (stored.next_seq, stored.message_count) == (1, 1)
    assert stored.active_leaf_id == appended.id
    assert stored.updated_at > created.updated_at


async def test_append_to_a_missing_session_is_not_found(database: Database) -> None:
    with pytest.raises(NotFoundError) as failure:
        await database.run(_append_to_active_leaf("no-such-session", "u"))

    assert failure.value.code == "session_not_found"


async def test_concurrent_appends_get_unique_consecutive_seqs(database: Database) -> None:
    session_id = await _new_session(database)

    async def append_from_own_connection(n: int) -> int:
        async with database.transaction() as db:
            # Each writer holds its own, soon stale, copy of the session.
            await session_store.get_session(db, session_id=session_id, owner="alice")
            await asyncio.sleep(0)
            append = _append_to_active_leaf(session_id, f"u{n}")
            message = await db.run_sync(lambda sync: append(sync.connection()))
            return message.seq

    seqs = await asyncio.gather(*(append_from_own_connection(n) for n in range(20)))

    assert sorted(seqs) == list(range(1, 21))
    async with database.session() as db:
        session = await session_store.get_session(db, session_id=session_id, owner=None)
        assert await message_store.count_messages(db, session_id=session_id) == 20
    assert session is not None
    assert (session.next_seq, session.message_count) == (20, 20)


async def test_rolled_back_append_leaves_no_gap(database: Database) -> None:
    session_id = await _new_session(database)
    await _append(database, session_id, "u1")

    def append_then_give_up(connection: Connection) -> None:
        _append_to_active_leaf(session_id, "x")(connection)
        raise _AbandonedError

    with pytest.raises(_AbandonedError):
        await database.run(append_then_give_up)

    assert await _append(database, session_id, "u2") == 2


async def _append_under(
    database: Database, session_id: str, parent: turn_rows.ParentChoice, content: str
) -> turn_rows.AppendedMessage:
    return await database.run(
        partial(
            turn_rows.append_message,
            session_id=session_id,
            parent_id=parent,
            role="user" if content.startswith("u") else "assistant",
            content=content,
            content_tokens=len(content),
        )
    )


async def test_path_tail_pages_backwards_newest_first(database: Database) -> None:
    session_id = await _new_session(database)
    for n in range(1, 8):
        last = await _append_under(database, session_id, turn_rows.ACTIVE_LEAF, f"u{n}")

    pages = []
    leaf: str | None = last.id
    while leaf is not None:
        page = await database.run(partial(turn_rows.read_path_tail, leaf_id=leaf, limit=3))
        pages.append([m.seq for m in page])
        leaf = page[-1].parent_id

    assert pages == [[7, 6, 5], [4, 3, 2], [1]]


async def test_path_tail_follows_parents_not_seq(database: Database) -> None:
    mine, other = await _new_session(database), await _new_session(database, "bob")
    first = await _append_under(database, mine, turn_rows.ACTIVE_LEAF, "u-mine")
    await _append_under(database, other, turn_rows.ACTIVE_LEAF, "u-other")
    await _append_under(database, mine, first.id, "a-swiped")
    kept = await _append_under(database, mine, first.id, "a-kept")

    tail = await database.run(partial(turn_rows.read_path_tail, leaf_id=kept.id, limit=10))

    assert [m.content for m in tail] == ["a-kept", "u-mine"]
    assert [m.path_tokens for m in tail] == [len("u-mine") + len("a-kept"), len("u-mine")]


async def test_history_tail_is_served_by_the_session_seq_index(database: Database) -> None:
    session_id = await _new_session(database)
    query = (
        "SELECT * FROM messages WHERE session_id = :sid AND seq < :before "
        "ORDER BY seq DESC LIMIT 20"
    )
    params = {"sid": session_id, "before": 100}

    async with database.engine.connect() as connection:
        if database.is_sqlite:
            rows = await connection.execute(text("EXPLAIN QUERY PLAN " + query), params)
            plan = " ".join(str(row[-1]) for row in rows)
            assert "USING INDEX" in plan
        else:
            await connection.execute(text("SET LOCAL enable_seqscan = off"))
            rows = await connection.execute(text("EXPLAIN " + query), params)
            plan = " ".join(str(row[0]) for row in rows)
            assert "uq_messages_session_id_seq" in plan
    assert "TEMP B-TREE" not in plan
    assert "Sort" not in plan


async def test_list_messages_pages_oldest_first(database: Database) -> None:
    session_id = await _new_session(database)
    for n in range(1, 6):
        await _append(database, session_id, f"u{n}")

    async with database.session() as db:
        first = await message_store.list_messages(db, session_id=session_id, limit=2, offset=0)
        last = await message_store.list_messages(db, session_id=session_id, limit=2, offset=4)
        total = await message_store.count_messages(db, session_id=session_id)

    assert [m.content for m in first] == ["u1", "u2"]
    assert [m.content for m in last] == ["u5"]
    assert total == 5


async def test_deleting_a_session_deletes_its_messages(database: Database) -> None:
    doomed, kept = await _new_session(database), await _new_session(database)
    for session_id in (doomed, kept, doomed):
        await _append(database, session_id, "u")

    async with database.session() as db, db.begin():
        await session_store.delete_session(db, session_id=doomed)

    async with database.session() as db:
        assert await message_store.count_messages(db, session_id=doomed) == 0
        assert await message_store.count_messages(db, session_id=kept) == 1


async def test_a_second_reply_is_a_sibling_and_keeps_the_first(database: Database) -> None:
    session_id = await _new_session(database)
    question = await _append_under(database, session_id, turn_rows.ACTIVE_LEAF, "u1")
    first = await _append_under(database, session_id, turn_rows.ACTIVE_LEAF, "a1")

    second = await _append_under(database, session_id, question.id, "a1 bis")

    assert (first.parent_id, second.parent_id) == (question.id, question.id)
    assert second.message_count == 2  # the active path: u1, a1 bis
    async with database.session() as db:
        kept = await message_store.list_messages(db, session_id=session_id, limit=10)
        session = await session_store.get_session(db, session_id=session_id, owner="alice")
    assert [m.content for m in kept] == ["u1", "a1", "a1 bis"]
    assert session is not None
    assert (session.active_leaf_id, session.message_count) == (second.id, 2)


async def test_a_new_root_starts_a_path_of_one(database: Database) -> None:
    session_id = await _new_session(database)
    await _append_under(database, session_id, turn_rows.ACTIVE_LEAF, "u1")
    await _append_under(database, session_id, turn_rows.ACTIVE_LEAF, "a1")

    root = await _append_under(database, session_id, None, "u1 edited")

    assert (root.parent_id, root.message_count, root.path_tokens) == (None, 1, len("u1 edited"))


async def test_a_parent_of_another_session_is_not_found(database: Database) -> None:
    mine, other = await _new_session(database), await _new_session(database, "bob")
    elsewhere = await _append_under(database, other, turn_rows.ACTIVE_LEAF, "u-other")

    with pytest.raises(NotFoundError) as failure:
        await _append_under(database, mine, elsewhere.id, "u-mine")

    assert failure.value.code == "message_not_found"
    async with database.session() as db:
        assert await message_store.count_messages(db, session_id=mine) == 0
