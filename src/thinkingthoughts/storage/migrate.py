"""Schema migrations, run from code: no config file, the URL is passed in.

The migration scripts ship inside the package (`storage/migrations`). Upgrading a
database already at the target revision changes nothing.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, NullPool
from sqlalchemy.ext.asyncio import create_async_engine

from thinkingthoughts.storage.database import async_database_url, ensure_sqlite_directory

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_ONE_MIGRATION_AT_A_TIME = threading.Lock()
"""Alembic keeps the running migration in module globals: threads must take turns."""


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the shipped migrations and `url` (for `alembic.command`)."""
    config = Config()
    # ConfigParser interpolates "%": escape it in the one value that is a path.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.attributes["database_url"] = url
    return config


def head_revision() -> str | None:
    """The newest revision the shipped migrations define."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade_database(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision`, creating a SQLite file's directory.

    Blocking, and it must not be called on a thread running an event loop: from async
    code, await `upgrade_database_async`. Safe to run from several threads or processes
    at once: one migrates, the others wait and then find nothing to do.
    """
    parsed = async_database_url(url)
    ensure_sqlite_directory(parsed)
    config = alembic_config(parsed.render_as_string(hide_password=False))
    with _ONE_MIGRATION_AT_A_TIME:
        command.upgrade(config, revision)


async def upgrade_database_async(url: str, revision: str = "head") -> None:
    """`upgrade_database` run in a worker thread, for callers inside an event loop."""
    await asyncio.to_thread(upgrade_database, url, revision)


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at (None: never migrated). Blocking."""
    return asyncio.run(current_revision_async(url))


async def current_revision_async(url: str) -> str | None:
    """The revision the database at `url` is at (None: never migrated)."""
    parsed = async_database_url(url)
    ensure_sqlite_directory(parsed)
    engine = create_async_engine(parsed, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_revision_of)
    finally:
        await engine.dispose()


def _revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
