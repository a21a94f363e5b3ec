"""Runs the migrations through an async engine, for the URL the caller put in the config.

The URL comes from `config.attributes["database_url"]` (see `storage.migrate`), or from
`sqlalchemy.url` when a developer drives Alembic with a config file of their own.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import NullPool, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from thinkingthoughts.storage.database import async_database_url
from thinkingthoughts.storage.models import Base, UTCDateTime

MIGRATION_LOCK_KEY = 0x74746D6967726174
"""PostgreSQL advisory lock held while migrating, so replicas starting together take turns."""

SQLITE_LOCK_TIMEOUT_SECONDS = 60.0


def _database_url() -> str:
    url = context.config.attributes.get("database_url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL: pass one to storage.migrate")
    return async_database_url(url).render_as_string(hide_password=False)


def _render_item(type_: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    # New revisions must not import the application: spell the column type out.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**options: Any) -> None:
    context.configure(
        target_metadata=Base.metadata,
        compare_type=True,
        render_item=_render_item,
        **options,
    )


def run_migrations_offline() -> None:
    url = _database_url()
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_migrations(connection: Connection) -> None:
    # One transaction for the whole upgrade on both backends: it either applies fully
    # or not at all, and a second migrator waits for it, then finds nothing to do.
    _configure(
        connection=connection,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


def _migration_engine(url: str) -> AsyncEngine:
    if not url.startswith("sqlite"):
        return create_async_engine(url, poolclass=NullPool)
    engine = create_async_engine(
        url, poolclass=NullPool, connect_args={"timeout": SQLITE_LOCK_TIMEOUT_SECONDS}
    )
    event.listen(engine.sync_engine, "connect", _sqlite_explicit_transactions)
    event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_explicit_transactions(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # The driver would otherwise leave DDL outside any transaction.
    dbapi_connection.isolation_level = None


def _sqlite_begin_immediate(connection: Connection) -> None:
    # Takes the write lock before reading the current revision, so that two migrators
    # cannot both decide to create the same tables.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


async def _run_migrations_async(url: str) -> None:
    engine = _migration_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_run_migrations_async(_database_url()))
        return
    raise RuntimeError(
        "migrations cannot run on a thread with a running event loop: "
        "await storage.migrate.upgrade_database_async instead"
    )


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
