"""Usage is summed in memory and written in batches, on the real database; nothing counted
is lost on shutdown or on a failed write."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from thinkingthoughts.access.api_keys import Scope, generate_key_secret
from thinkingthoughts.access.key_management import store_key
from thinkingthoughts.storage import key_store, usage_store
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.migrate import upgrade_database_async
from thinkingthoughts.storage.models import ApiKey
from thinkingthoughts.usage.ledger import UsageKey, UsageLedger

DAY = date(2026, 12, 1)


async def _key_id(database: Database) -> str:
    new = generate_key_secret()
    await store_key(database, new, name="metered", scopes=[Scope.CHAT])
    async with database.session() as db:
        row = await key_store.find_api_key_by_hash(db, secret_hash=new.secret_hash)
    assert row is not None
    return row.id


async def _rows(database: Database, key_id: str) -> list[tuple[str, int, int, int]]:
    async with database.session() as db:
        rows = await usage_store.read_usage(db, key_id=key_id, since=DAY)
    return [(r.persona, r.requests, r.prompt_tokens, r.completion_tokens) for r in rows]


async def test_turns_are_summed_and_written_in_one_flush(database: Database) -> None:
    key_id = await _key_id(database)
    ledger = UsageLedger(database, flush_seconds=60)
    seline, tutor = UsageKey(key_id, DAY, "seline", "m"), UsageKey(key_id, DAY, "tutor", "m")
    for _ in range(3):
        await ledger.add(seline, prompt_tokens=10, completion_tokens=2)
    await ledger.add(tutor, prompt_tokens=5, completion_tokens=1)

    assert await _rows(database, key_id) == []  # counted, not yet written
    assert ledger.pending == 4
    await ledger.flush()

    assert await _rows(database, key_id) == [("seline", 3, 30, 6), ("tutor", 1, 5, 1)]
    assert ledger.pending == 0
    await ledger.add(seline, prompt_tokens=1, completion_tokens=1)
    await ledger.flush()
    assert await _rows(database, key_id) == [("seline", 4, 31, 7), ("tutor", 1, 5, 1)]


async def test_without_a_period_each_turn_is_written_as_it_ends(database: Database) -> None:
    key_id = await _key_id(database)
    ledger = UsageLedger(database, flush_seconds=0)

    await ledger.add(UsageKey(key_id, DAY, "", "m"), prompt_tokens=7, completion_tokens=3)

    assert await _rows(database, key_id) == [("", 1, 7, 3)]


async def test_the_background_flush_writes_and_close_writes_the_rest(database: Database) -> None:
    key_id = await _key_id(database)
    ledger = UsageLedger(database, flush_seconds=0.05)
    ledger.start()
    where = UsageKey(key_id, DAY, "seline", "m")
    await ledger.add(where, prompt_tokens=1, completion_tokens=1)
    for _ in range(100):
        if await _rows(database, key_id):
            break
        await asyncio.sleep(0.05)
    assert await _rows(database, key_id) == [("seline", 1, 1, 1)]

    await ledger.add(where, prompt_tokens=1, completion_tokens=1)
    await ledger.close()

    assert await _rows(database, key_id) == [("seline", 2, 2, 2)]


async def test_a_failed_write_keeps_the_counts_for_the_next_try(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}"
    database = Database(url)  # no schema yet: the write fails
    try:
        ledger = UsageLedger(database, flush_seconds=60)
        where = UsageKey("key-1", DAY, "seline", "m")
        await ledger.add(where, prompt_tokens=4, completion_tokens=2)
        await ledger.flush()
        assert ledger.pending == 1

        await upgrade_database_async(url)
        async with database.session() as db, db.begin():
            db.add(
                ApiKey(
                    id="key-1", name="n", prefix="tt_x", secret_hash="h" * 64,
                    scopes=["chat"], owner="o", created_at=utcnow(),
                )
            )  # fmt: skip
        await ledger.add(where, prompt_tokens=1, completion_tokens=1)
        await ledger.flush()

        assert ledger.pending == 0
        assert await _rows(database, "key-1") == [("seline", 2, 5, 3)]
    finally:
        await database.dispose()


async def test_a_flush_cancelled_at_shutdown_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}"
    await upgrade_database_async(url)
    database = Database(url)
    try:
        key_id = await _key_id(database)
        ledger = UsageLedger(database, flush_seconds=60)
        await ledger.add(UsageKey(key_id, DAY, "seline", "m"), prompt_tokens=3, completion_tokens=1)
        release = asyncio.Event()

        async def hold_the_writers_turn() -> None:
            async with database.transaction():
                await release.wait()

        holder = asyncio.create_task(hold_the_writers_turn())
        await asyncio.sleep(0.05)
        flushing = asyncio.create_task(ledger.flush())
        await asyncio.sleep(0.05)
        flushing.cancel()  # as shutdown cancels a periodic flush that waits its turn
        with pytest.raises(asyncio.CancelledError):
            await flushing
        assert ledger.pending == 1
        release.set()
        await holder

        await ledger.close()
        await ledger.add(UsageKey(key_id, DAY, "seline", "m"), prompt_tokens=1, completion_tokens=1)

        assert ledger.pending == 0  # after close, each turn is written as it ends
        assert await _rows(database, key_id) == [("seline", 2, 4, 2)]
    finally:
        await database.dispose()
