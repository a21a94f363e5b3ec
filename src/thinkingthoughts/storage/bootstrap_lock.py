"""One process at a time prepares a database: migrations, seeds and the first admin key.

Replicas started together on an empty database must not both seed the example personas
or both make an admin key. `bootstrap_lock(url)` is held around the whole preparation:

- PostgreSQL: a session advisory lock (`pg_advisory_lock`) on a fixed key, taken on a
  connection of its own that lives exactly as long as the lock, so it holds across
  hosts, and is released by the server should the holder die;
- SQLite: an exclusive `flock` on a file beside the database (a SQLite file is only ever
  shared by processes of one host).

The second process waits, then finds everything done and changes nothing. The lock key
differs from the migrations' own (`storage/migrations/env.py`): those run inside it, on
another connection, and `thinkingthoughts db upgrade` alone still takes only theirs.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import NullPool, text
from sqlalchemy.ext.asyncio import create_async_engine

from thinkingthoughts.storage.database import async_database_url, sqlite_file_path

BOOTSTRAP_LOCK_KEY = 0x7474626F6F74
"""PostgreSQL advisory lock key held while a process prepares the database ("ttboot")."""

LOCK_STATEMENT = text("SELECT pg_advisory_lock(:key)")
SQLITE_LOCK_SUFFIX = ".bootstrap.lock"


@asynccontextmanager
async def bootstrap_lock(url: str, *, connect_timeout: float = 10.0) -> AsyncIterator[None]:
    """Hold the database's bootstrap lock for the duration of the block (see module doc).

    Waits as long as another process holds it: preparing a database takes seconds, and
    a start that gave up would only have to wait again.
    """
    parsed = async_database_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = create_async_engine(
            parsed, poolclass=NullPool, connect_args={"timeout": connect_timeout}
        )
        try:
            # Closing the connection (NullPool: really closing it) releases the lock.
            async with engine.connect() as connection:
                await connection.execute(LOCK_STATEMENT, {"key": BOOTSTRAP_LOCK_KEY})
                # Out of the transaction the statement began: a session lock outlives it.
                await connection.commit()
                yield
        finally:
            await engine.dispose()
        return
    path = sqlite_file_path(parsed)
    if path is None:  # in memory: one process only
        yield
        return
    lock_path = path.with_name(path.name + SQLITE_LOCK_SUFFIX)
    descriptor = await asyncio.to_thread(_lock_file, lock_path)
    try:
        yield
    finally:
        os.close(descriptor)  # closing the file releases its lock


def _lock_file(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor
