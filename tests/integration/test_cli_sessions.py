"""`sessions purge` and `sessions export`: housekeeping of stored conversations."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, update
from typer.testing import CliRunner

from tests.integration.live_servers import on_database
from thinkingthoughts.cli import app
from thinkingthoughts.settings import SQLITE_FILE_NAME
from thinkingthoughts.storage import turn_rows
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import MessageRole

runner = CliRunner()


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "LLM_BASE_URL", "VLLM_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TT_DATA_DIR", str(tmp_path / "data"))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    return f"sqlite:///{tmp_path / 'data' / SQLITE_FILE_NAME}"


def _conversation(database_url: str, *, idle_days: int, words: tuple[str, ...]) -> str:
    async def make(database: Database) -> str:
        session_id = await database.run(
            partial(turn_rows.create_session, owner="o", persona_id=None, traits={}, title="T")
        )
        for n, text in enumerate(words):
            role: MessageRole = "user" if n % 2 == 0 else "assistant"
            await database.run(
                partial(
                    turn_rows.append_message,
                    session_id=session_id,
                    parent_id=turn_rows.ACTIVE_LEAF,
                    content_tokens=1,
                    role=role,
                    content=text,
                )
            )
        idle_since = utcnow() - timedelta(days=idle_days)
        sessions = turn_rows.SESSIONS
        await database.run(
            lambda c: c.execute(
                update(sessions).where(sessions.c.id == session_id).values(updated_at=idle_since)
            )
        )
        return session_id

    return on_database(database_url, make)


def _stored(database_url: str) -> tuple[set[str], int]:
    """(ids of the stored sessions, how many messages are stored)."""

    async def read(database: Database) -> tuple[set[str], int]:
        def query(c: Connection) -> tuple[set[str], int]:
            ids = set(c.execute(select(turn_rows.SESSIONS.c.id)).scalars())
            count = c.execute(select(func.count()).select_from(turn_rows.MESSAGES)).scalar_one()
            return ids, count

        return await database.run(query)

    return on_database(database_url, read)


def test_purge_deletes_only_sessions_idle_for_longer_with_their_messages(
    database_url: str,
) -> None:
    old = _conversation(database_url, idle_days=40, words=("hello", "hi", "bye"))
    recent = _conversation(database_url, idle_days=2, words=("still here", "yes"))

    counted = runner.invoke(app, ["sessions", "purge", "--older-than", "30d", "--dry-run"])
    assert counted.exit_code == 0, counted.output
    assert counted.stdout.startswith("would delete 1 sessions idle since ")
    assert _stored(database_url) == ({old, recent}, 5)

    purged = runner.invoke(app, ["sessions", "purge", "--older-than", "30d"])
    assert purged.exit_code == 0, purged.output
    assert purged.stdout.startswith("deleted 1 sessions idle since ")
    assert _stored(database_url) == ({recent}, 2)


@pytest.mark.parametrize("age", ["30", "30 days", "0d", "-1d", "1y"])
def test_purge_refuses_an_age_it_cannot_read_and_deletes_nothing(
    database_url: str, age: str
) -> None:
    kept = _conversation(database_url, idle_days=400, words=("hello",))

    result = runner.invoke(app, ["sessions", "purge", "--older-than", age])

    assert result.exit_code == 2
    assert "not an age like 30d" in result.stderr
    assert _stored(database_url) == ({kept}, 1)


def test_export_prints_markdown_or_writes_json(database_url: str, tmp_path: Path) -> None:
    session_id = _conversation(database_url, idle_days=0, words=("Tell me a joke", "Knock knock"))

    markdown = runner.invoke(app, ["sessions", "export", session_id])
    assert markdown.exit_code == 0, markdown.output
    assert markdown.stdout.index("Tell me a joke") < markdown.stdout.index("Knock knock")

    target = tmp_path / "conversation.json"
    written = runner.invoke(
        app, ["sessions", "export", session_id, "--format", "json", "--output", str(target)]
    )
    assert written.exit_code == 0, written.output
    document = json.loads(target.read_text())
    assert [m["content"] for m in document["messages"]] == ["Tell me a joke", "Knock knock"]


def test_export_of_an_unknown_session_fails_with_one_line(database_url: str) -> None:
    result = runner.invoke(app, ["sessions", "export", "no-such-session"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no session 'no-such-session'"
