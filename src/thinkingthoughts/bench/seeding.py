"""Long stored conversations for the `long-session` scenario: each session is opened by a
real turn through the gateway, then filled to its size through the storage layer (the
same code that stores turns), which is much faster than that many turns over HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from thinkingthoughts.bench.targets import Stack, open_sessions
from thinkingthoughts.settings import SQLITE_FILE_NAME
from thinkingthoughts.storage import message_store
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import MessageRole

FILLER = (
    "We talked about the weather, a book about lighthouses and whether soup counts as "
    "a meal or a drink; number {n} in a long, friendly conversation."
)


async def seed_long_sessions(stack: Stack, gateway_dir: Path, *, sizes: Sequence[int]) -> list[str]:
    """One session per size, holding at least that many stored messages."""
    session_ids = await open_sessions(stack, len(sizes))
    database = Database(f"sqlite+aiosqlite:///{gateway_dir / 'data' / SQLITE_FILE_NAME}")
    try:
        for session_id, size in zip(session_ids, sizes, strict=True):
            async with database.session() as db, db.begin():
                # The opening turn stored a greeting, a message and a reply already.
                for n in range(max(0, size - 3)):
                    role: MessageRole = "user" if n % 2 == 0 else "assistant"
                    await message_store.append_message(
                        db, session_id=session_id, role=role, content=FILLER.format(n=n)
                    )
    finally:
        await database.dispose()
    return session_ids
