from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from thinkingthoughts.errors import DatabaseUnavailableError
from thinkingthoughts.storage import key_store, turn_rows
from thinkingthoughts.storage.database import Database, DatabaseTimeouts, async_database_url
from thinkingthoughts.storage.migrate import upgrade_database_async
from thinkingthoughts.storage.models import ApiKey


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///data/tt.db", "sqlite+aiosqlite:///data/tt.db"),
        ("sqlite+aiosqlite:///data/tt.db", "sqlite+aiosqlite:///data/tt.db"),
        ("postgresql://u:p@db:5432/tt", "postgresql+asyncpg://u:p@db:5432/tt"),
        ("postgres://u:p@db/tt", "postgresql+asyncpg://u:p@db/tt"),
        ("postgresql+asyncpg://u:p@db/tt", "postgresql+asyncpg://u:p@db/tt"),
    ],
)
def test_plain_urls_get_their_async_driver(given: str, expected: str) -> None:
    assert async_database_url(given).render_as_string(hide_password=False) == expected


async def test_ping_succeeds_on_a_reachable_database(database: Database) -> None:
    await database.ping()


async def test_ping_says_the_database_is_unavailable_when_the_server_cannot_be_reached() -> None:
    database = Database("postgresql://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(DatabaseUnavailableError):
            await database.ping()
    finally:
        await database.dispose()


async def test_a_sqlite_write_lock_held_past_the_statement_timeout_is_unavailability(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tt.db'}"
    await upgrade_database_async(url)
    database = Database(url, timeouts=DatabaseTimeouts(statement=0.2))
    holder = sqlite3.connect(tmp_path / "tt.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process writing, and not letting go
        with pytest.raises(DatabaseUnavailableError):
            await database.run(
                partial(turn_rows.create_session, owner="o", persona_id=None, traits={}, title=None)
            )
    finally:
        holder.rollback()
        holder.close()
        await database.dispose()


async def test_sqlite_file_and_its_directory_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "tt.db"
    database = Database(f"sqlite:///{path}")
    try:
        await database.ping()
    finally:
        await database.dispose()

    assert database.is_sqlite
    assert database.url == f"sqlite+aiosqlite:///{path}"
    assert path.is_file()


async def test_sqlite_connections_use_wal_and_enforce_foreign_keys(tmp_path: Path) -> None:
    database = Database(
        f"sqlite+aiosqlite:///{tmp_path / 'tt.db'}", timeouts=DatabaseTimeouts(statement=7.5)
    )
    try:
        async with database.engine.connect() as connection:
            pragmas = {
                name: (await connection.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        await database.dispose()

    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 7500,  # the statement timeout
        "synchronous": 1,
    }


async def test_timestamps_come_back_aware_in_utc(database: Database) -> None:
    expires = datetime(2030, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    async with database.session() as db, db.begin():
        key = await key_store.create_api_key(
            db, name="k", prefix="tt_x", secret_hash="h", scopes=[], owner="o", expires_at=expires
        )

    async with database.session() as db:
        stored = await db.scalar(select(ApiKey).where(ApiKey.id == key.id))

    assert stored is not None
    assert stored.expires_at == expires
    assert stored.expires_at is not None
    assert stored.expires_at.tzinfo == UTC
    assert stored.created_at.tzinfo == UTC


async def test_naive_timestamps_are_refused(database: Database) -> None:
    async with database.session() as db:
        with pytest.raises(StatementError, match="naive datetime"):
            await key_store.create_api_key(
                db,
                name="k",
                prefix="tt_x",
                secret_hash="h",
                scopes=[],
                owner="o",
                expires_at=datetime(2030, 1, 1),
            )
