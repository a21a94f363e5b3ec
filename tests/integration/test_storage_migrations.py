from __future__ import annotations

import asyncio
import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, DateTime, bindparam, inspect, text

from thinkingthoughts.context.tokens import estimate_message_tokens
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.migrate import (
    alembic_config,
    current_revision,
    current_revision_async,
    head_revision,
    upgrade_database,
    upgrade_database_async,
)
from thinkingthoughts.storage.models import Base

TABLES = {"personas", "sessions", "messages", "api_keys"}


async def _table_names(url: str) -> set[str]:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await database.dispose()
    return set(names)


def test_head_is_the_newest_revision() -> None:
    assert head_revision() == "0006"


async def test_fresh_database_has_no_revision(database_url: str) -> None:
    assert await current_revision_async(database_url) is None


async def test_upgrade_creates_every_table_at_head(database_url: str) -> None:
    await upgrade_database_async(database_url)

    assert await current_revision_async(database_url) == head_revision()
    assert await _table_names(database_url) >= TABLES


async def test_upgrading_twice_changes_nothing(database_url: str) -> None:
    await upgrade_database_async(database_url)
    tables_before = await _table_names(database_url)

    await upgrade_database_async(database_url)

    assert await _table_names(database_url) == tables_before
    assert await current_revision_async(database_url) == head_revision()


async def test_threads_migrating_at_once_all_succeed(database_url: str) -> None:
    await asyncio.gather(*(upgrade_database_async(database_url) for _ in range(3)))

    assert await current_revision_async(database_url) == head_revision()


async def test_processes_migrating_at_once_all_succeed(database_url: str) -> None:
    script = (
        "import sys\n"
        "from thinkingthoughts.storage.migrate import upgrade_database\n"
        "upgrade_database(sys.argv[1])\n"
    )
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, database_url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(3)
    ]
    errors = [(await process.communicate())[1].decode() for process in processes]

    assert [process.returncode for process in processes] == [0, 0, 0], errors
    assert await current_revision_async(database_url) == head_revision()


def test_blocking_upgrade_works_outside_an_event_loop(database_url: str) -> None:
    upgrade_database(database_url)
    upgrade_database(database_url)

    assert current_revision(database_url) == head_revision()


async def test_blocking_upgrade_inside_an_event_loop_says_what_to_use(database_url: str) -> None:
    with pytest.raises(RuntimeError, match="upgrade_database_async"):
        upgrade_database(database_url)


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_downgrade_to_base_then_upgrade_again(database_url: str) -> None:
    await upgrade_database_async(database_url)

    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "base")
    assert await current_revision_async(database_url) is None
    assert not TABLES & await _table_names(database_url)

    await upgrade_database_async(database_url)
    assert await current_revision_async(database_url) == head_revision()


async def test_upgrade_creates_the_sqlite_directory(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "tt.db"

    await upgrade_database_async(f"sqlite:///{path}")

    assert path.is_file()
    assert await current_revision_async(f"sqlite+aiosqlite:///{path}") == head_revision()


@pytest.mark.parametrize(
    "url", ["sqlite:///unused.db", "postgresql+asyncpg://nobody@127.0.0.1:1/none"]
)
def test_offline_upgrade_writes_the_sql(url: str) -> None:
    config = alembic_config(url)
    config.output_buffer = io.StringIO()

    command.upgrade(config, "head", sql=True)

    sql = config.output_buffer.getvalue()
    for table in TABLES:
        assert f"CREATE TABLE {table}" in sql
    assert "uq_messages_session_id_seq" in sql
    assert "active_leaf_id" in sql
    assert "path_tokens" in sql


LINEAR_CONVERSATION = (
    ("assistant", "Hello! I am the persona."),
    ("user", "hi, how are you?"),
    ("assistant", "Très bien, merci. 🌟"),
    ("user", "tell me more"),
)


async def _write_as_of_0005(url: str) -> None:
    """Two sessions as the previous release wrote them: a linear conversation and an
    empty one, with the columns of 0005 only."""
    database = Database(url)
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    dated = bindparam("now", type_=DateTime(timezone=True))
    try:
        async with database.engine.begin() as connection:
            for session_id, count in (("s-linear", len(LINEAR_CONVERSATION)), ("s-empty", 0)):
                await connection.execute(
                    text(
                        "INSERT INTO sessions (id, owner, persona_id, title, traits, next_seq,"
                        " message_count, created_at, updated_at, client_ref) VALUES"
                        " (:id, 'alice', NULL, 'T', '{}', :count, :count, :now, :now, NULL)"
                    ).bindparams(dated),
                    {"id": session_id, "count": count, "now": now},
                )
            for seq, (role, content) in enumerate(LINEAR_CONVERSATION, start=1):
                await connection.execute(
                    text(
                        "INSERT INTO messages (id, session_id, seq, role, content, status,"
                        " created_at, completed_at) VALUES"
                        " (:id, 's-linear', :seq, :role, :content, 'complete', :now, :now)"
                    ).bindparams(dated),
                    {"id": f"m{seq}", "seq": seq, "role": role, "content": content, "now": now},
                )
    finally:
        await database.dispose()


async def test_upgrade_turns_a_linear_conversation_into_a_one_branch_tree(
    database_url: str,
) -> None:
    await upgrade_database_async(database_url, "0005")
    await _write_as_of_0005(database_url)

    await upgrade_database_async(database_url)

    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            messages = (
                await connection.execute(
                    text(
                        "SELECT id, parent_id, seq, role, content, status, path_tokens"
                        " FROM messages ORDER BY seq"
                    )
                )
            ).all()
            sessions = (
                await connection.execute(
                    text("SELECT id, active_leaf_id, message_count, next_seq FROM sessions")
                )
            ).all()
    finally:
        await database.dispose()
    assert [(m.id, m.seq, m.role, m.content, m.status) for m in messages] == [
        (f"m{seq}", seq, role, content, "complete")
        for seq, (role, content) in enumerate(LINEAR_CONVERSATION, start=1)
    ]
    assert [m.parent_id for m in messages] == [None, "m1", "m2", "m3"]
    running, expected_tokens = 0, []
    for _, content in LINEAR_CONVERSATION:
        running += estimate_message_tokens(content)
        expected_tokens.append(running)
    assert [m.path_tokens for m in messages] == expected_tokens
    assert sorted(tuple(s) for s in sessions) == [("s-empty", None, 0, 0), ("s-linear", "m4", 4, 4)]


async def test_downgrade_from_trees_keeps_every_message(database_url: str) -> None:
    await upgrade_database_async(database_url, "0005")
    await _write_as_of_0005(database_url)
    await upgrade_database_async(database_url)

    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0005")

    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            seqs = (await connection.execute(text("SELECT seq FROM messages ORDER BY seq"))).all()
    finally:
        await database.dispose()
    assert [row.seq for row in seqs] == [1, 2, 3, 4]
