from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from thinkingthoughts.storage import session_store
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import ChatSession
from thinkingthoughts.storage.turn_rows import SessionRow, set_session_traits

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


async def _create(database: Database, owner: str, *, minutes: int = 0) -> SessionRow:
    """A session last active `minutes` after EPOCH."""
    async with database.session() as db, db.begin():
        session = await session_store.create_session(
            db, owner=owner, persona_id=None, traits={"tone": 3}, title=f"{owner} {minutes}"
        )
        await db.execute(
            update(ChatSession)
            .where(ChatSession.id == session.id)
            .values(updated_at=EPOCH + timedelta(minutes=minutes))
        )
    return session


async def test_created_session_starts_empty(database: Database) -> None:
    async with database.session() as db, db.begin():
        session = await session_store.create_session(
            db, owner="alice", persona_id=None, traits={"tone": 4}
        )

    async with database.session() as db:
        stored = await session_store.get_session(db, session_id=session.id, owner="alice")

    assert stored is not None
    assert (stored.owner, stored.title, stored.traits) == ("alice", None, {"tone": 4})
    assert (stored.next_seq, stored.message_count) == (0, 0)


async def test_another_owner_cannot_see_a_session(database: Database) -> None:
    session = await _create(database, "alice")

    async with database.session() as db:
        as_owner = await session_store.get_session(db, session_id=session.id, owner="alice")
        as_other = await session_store.get_session(db, session_id=session.id, owner="bob")
        as_admin = await session_store.get_session(db, session_id=session.id, owner=None)
        unknown = await session_store.get_session(db, session_id="no-such-id", owner=None)

    assert as_owner is not None
    assert as_owner.id == session.id
    assert as_other is None
    assert as_admin is not None
    assert as_admin.id == session.id
    assert unknown is None


async def test_list_shows_most_recent_activity_first_with_total(database: Database) -> None:
    minutes = (5, 1, 9, 3, 7)
    created = [await _create(database, "alice", minutes=m) for m in minutes]
    await _create(database, "bob", minutes=100)
    newest_first = [s for _, s in sorted(zip(minutes, created, strict=True), reverse=True)]

    async with database.session() as db:
        first_page, total = await session_store.list_sessions(db, owner="alice", limit=2, offset=0)
        last_page, _ = await session_store.list_sessions(db, owner="alice", limit=2, offset=4)
        past_the_end, _ = await session_store.list_sessions(db, owner="alice", limit=2, offset=5)

    assert total == 5
    assert [s.id for s in first_page] == [s.id for s in newest_first[:2]]
    assert [s.id for s in last_page] == [newest_first[4].id]
    assert past_the_end == []


async def test_sessions_active_at_the_same_moment_list_in_a_stable_order(
    database: Database,
) -> None:
    tied = [await _create(database, "alice", minutes=1) for _ in range(4)]

    async with database.session() as db:
        rows, _ = await session_store.list_sessions(db, owner="alice", limit=10, offset=0)

    assert [s.id for s in rows] == sorted((s.id for s in tied), reverse=True)


async def test_admin_lists_every_owner(database: Database) -> None:
    await _create(database, "alice", minutes=1)
    await _create(database, "bob", minutes=2)

    async with database.session() as db:
        rows, total = await session_store.list_sessions(db, owner=None, limit=10, offset=0)

    assert total == 2
    assert [s.owner for s in rows] == ["bob", "alice"]


async def test_rename_and_new_traits_are_stored(database: Database) -> None:
    session = await _create(database, "alice")

    async with database.session() as db, db.begin():
        await session_store.rename_session(db, session_id=session.id, title="Trip planning")
        await db.run_sync(
            lambda sync: set_session_traits(
                sync.connection(), session_id=session.id, traits={"humor": 5}
            )
        )

    async with database.session() as db:
        stored = await session_store.get_session(db, session_id=session.id, owner="alice")

    assert stored is not None
    assert (stored.title, stored.traits) == ("Trip planning", {"humor": 5})
    assert stored.updated_at > EPOCH


async def test_deleted_session_is_gone(database: Database) -> None:
    session = await _create(database, "alice")

    async with database.session() as db, db.begin():
        await session_store.delete_session(db, session_id=session.id)

    async with database.session() as db:
        assert await session_store.get_session(db, session_id=session.id, owner=None) is None
        _, total = await session_store.list_sessions(db, owner="alice", limit=10, offset=0)
    assert total == 0
