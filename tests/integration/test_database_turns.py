"""On SQLite the write transactions of one process take turns; on PostgreSQL they run
side by side (its row locks are enough)."""

from __future__ import annotations

import asyncio

from thinkingthoughts.storage.database import Database


async def test_transactions_take_turns_on_sqlite_only(database: Database) -> None:
    inside: list[str] = []
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with database.transaction():
            inside.append("first")
            first_in.set()
            await release.wait()

    async def second() -> None:
        async with database.transaction():
            inside.append("second")

    holder = asyncio.create_task(first())
    await first_in.wait()
    waiting = asyncio.create_task(second())
    await asyncio.sleep(0.1)

    assert inside == (["first"] if database.is_sqlite else ["first", "second"])
    release.set()
    await asyncio.gather(holder, waiting)
    assert inside == ["first", "second"]
