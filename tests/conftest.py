"""Database and Redis fixtures shared by every test that needs one.

`database_url` runs each test once on a fresh SQLite file and once on a fresh
PostgreSQL database (created on the server named by TT_TEST_DATABASE_URL, dropped
afterwards). Without that variable the PostgreSQL run is skipped; with it, a server
that cannot be reached fails the test. `database` is a migrated `Database` on that URL.
`redis_url` is the Redis named by TT_TEST_REDIS_URL (one database per test worker, counting
down from that URL's), flushed before the test; without the variable the test is skipped,
and with it an unreachable server fails the test.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis
from sqlalchemy import make_url

from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.migrate import upgrade_database_async

POSTGRES_URL_VARIABLE = "TT_TEST_DATABASE_URL"
POSTGRES_CONNECT_TIMEOUT = 10.0

T = TypeVar("T")


def _run_on_own_loop(make: Callable[[], Awaitable[T]]) -> T:
    # A thread of its own, so no event loop of the test is disturbed or needed.
    async def call() -> T:
        return await make()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, call()).result()


def _server_dsn(url: str) -> str:
    """The URL as asyncpg takes it (no `+asyncpg` driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _execute_on_server(server_url: str, statement: str) -> None:
    connection = await asyncpg.connect(_server_dsn(server_url), timeout=POSTGRES_CONNECT_TIMEOUT)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def postgres_database_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (asyncpg URL), dropped after the test."""
    server_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server_url:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} not set")
    name = f"tt_{uuid.uuid4().hex}"
    _run_on_own_loop(
        lambda: _execute_on_server(server_url, f'CREATE DATABASE "{name}" TEMPLATE template0')
    )
    try:
        yield (
            make_url(server_url)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        _run_on_own_loop(
            lambda: _execute_on_server(server_url, f'DROP DATABASE "{name}" WITH (FORCE)')
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database to test against: a SQLite file, then a PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_database_url"))
    return f"sqlite+aiosqlite:///{tmp_path / 'db' / 'thinkingthoughts.db'}"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A `Database` on `database_url`, migrated to head, disposed after the test."""
    await upgrade_database_async(database_url)
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


REDIS_URL_VARIABLE = "TT_TEST_REDIS_URL"


def worker_redis_url(url: str, worker: str | None) -> str:
    """The Redis database of one test worker: the URL's own for the first (or only) worker,
    the ones below it for the others, so workers never flush each other's keys."""
    index = int(worker.removeprefix("gw")) if worker and worker.startswith("gw") else 0
    parsed = urlsplit(url)
    database = int(parsed.path.lstrip("/") or 0) - index
    if database < 0:
        raise pytest.UsageError(f"{REDIS_URL_VARIABLE}: too few Redis databases below it")
    return urlunsplit(parsed._replace(path=f"/{database}"))


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database, emptied before the test (use a database number of its own)."""
    url = os.environ.get(REDIS_URL_VARIABLE)
    if not url:
        pytest.skip(f"{REDIS_URL_VARIABLE} not set")
    url = worker_redis_url(url, os.environ.get("PYTEST_XDIST_WORKER"))
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        client.flushdb()
        yield url
    finally:
        client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which tests were skipped and why, one line per reason."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            reasons[str(longrepr[2]).removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.section("skipped tests")
        for reason, count in reasons.most_common():
            terminalreporter.write_line(f"{count} skipped: {reason}")
