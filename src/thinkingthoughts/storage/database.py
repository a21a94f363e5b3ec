"""The database handle: one async engine and its session factory per process."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from thinkingthoughts.errors import ConcurrentChangeError, DatabaseUnavailableError
from thinkingthoughts.observability.metrics import DATABASE_SECONDS
from thinkingthoughts.observability.tracing import SpanStarter, no_span
from thinkingthoughts.storage.availability import (
    UnavailableWithoutConnectionPool,
    raise_unavailable_as_domain_error,
)

T = TypeVar("T")
logger = logging.getLogger(__name__)

ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
}
"""Driverless URLs people usually write, and the async driver each one means."""

SQLITE_PRAGMAS = (
    # After the busy timeout, so that switching the file to WAL waits for other connections.
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)

SQLITE_SYNC_DRIVER = "sqlite+pysqlite"
TRANSACTION_SPAN = "db.transaction"

POSTGRES_POOL_SIZE = 10
POSTGRES_MAX_OVERFLOW = 20
POSTGRES_POOL_RECYCLE_SECONDS = 1800
CLIENT_TIMEOUT_GRACE_SECONDS = 1.0
"""The driver gives up this long after the server's own statement timeout, so that a
server that answers cancels cleanly, and only one that does not is cut off."""


@dataclass(frozen=True, slots=True)
class DatabaseTimeouts:
    """How long the gateway waits on its database before answering 503.

    `connect`: to open a connection, or to wait for a free one in the pool.
    `statement`: for one statement; on SQLite, the wait for the file's write lock.
    """

    connect: float = 5.0
    statement: float = 10.0

    def asyncpg_connect_args(self) -> dict[str, Any]:
        """The server bounds each statement; the driver bounds a server that says nothing."""
        return {
            "timeout": self.connect,
            "command_timeout": self.statement + CLIENT_TIMEOUT_GRACE_SECONDS,
            "server_settings": {"statement_timeout": str(round(self.statement * 1000))},
        }

    @property
    def sqlite_busy_milliseconds(self) -> int:
        return round(self.statement * 1000)


def async_database_url(url: str | URL) -> URL:
    """The URL with its async driver: `postgresql://` becomes `postgresql+asyncpg://`, etc.

    URLs that already name a driver are returned unchanged.
    """
    parsed = make_url(url)
    driver = ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def sqlite_file_path(url: URL) -> Path | None:
    """The file a SQLite URL points at, or None for other databases and in-memory ones."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def ensure_sqlite_directory(url: URL) -> None:
    """Create the directory of a SQLite file, so that a fresh checkout starts as is."""
    path = sqlite_file_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


class Database:
    """An async engine plus a session factory (`expire_on_commit=False`).

    `url` may be `sqlite+aiosqlite:///path.db` or `postgresql+asyncpg://...`; the
    driverless forms (`sqlite:///`, `postgresql://`) are given their async driver.
    `pool_size` and `max_overflow` size the PostgreSQL pool; SQLite keeps its default.
    `span` opens a trace span around each transaction (none by default). `timeouts`
    bound every wait on the database: past them, and whenever the database cannot be
    reached, storage raises `DatabaseUnavailableError` (see `storage.availability`).
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = POSTGRES_POOL_SIZE,
        max_overflow: int = POSTGRES_MAX_OVERFLOW,
        span: SpanStarter = no_span,
        timeouts: DatabaseTimeouts = DatabaseTimeouts(),
    ) -> None:
        parsed = async_database_url(url)
        self.url = parsed.render_as_string(hide_password=False)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.timeouts = timeouts
        # Statement errors leave their parameters (message contents) out of the message.
        options: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            ensure_sqlite_directory(parsed)
        else:
            options.update(
                # A connection the database dropped is replaced on checkout: recovery
                # after an outage needs nothing but the database coming back.
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_recycle=POSTGRES_POOL_RECYCLE_SECONDS,
                pool_timeout=timeouts.connect,
                poolclass=UnavailableWithoutConnectionPool,
                connect_args=timeouts.asyncpg_connect_args(),
            )
        self.engine: AsyncEngine = create_async_engine(parsed, **options)
        raise_unavailable_as_domain_error(self.engine.sync_engine)
        pragmas = partial(_apply_sqlite_pragmas, busy_ms=timeouts.sqlite_busy_milliseconds)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", pragmas)
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )

        self._span = span
        self._closed = False
        self._sqlite_writers = asyncio.Lock() if self.is_sqlite else None
        # A SQLite file is also opened synchronously, for `run`: one thread of its own
        # runs a whole transaction in one hop, where aiosqlite hops once per call.
        self._sync_engine: Engine | None = None
        self._sync_thread: ThreadPoolExecutor | None = None
        if sqlite_file_path(parsed) is not None:
            self._sync_engine = create_engine(
                parsed.set(drivername=SQLITE_SYNC_DRIVER), hide_parameters=True
            )
            event.listen(self._sync_engine, "connect", pragmas)
            raise_unavailable_as_domain_error(self._sync_engine)

    def session(self) -> AsyncSession:
        """A new session, to use as `async with db.session() as session:`."""
        return self.sessionmaker()

    @asynccontextmanager
    async def request_session(self) -> AsyncIterator[AsyncSession]:
        """A session that lives as long as a request and is closed after its answer was
        sent: a connection that cannot even be given back then (the database went away
        meanwhile) is dropped and logged, never raised into an answer already given."""
        session = self.sessionmaker()
        try:
            yield session
        finally:
            try:
                await session.close()
            except DatabaseUnavailableError as exc:
                logger.warning("dropped a database connection after its request: %s", exc)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside a transaction, committed when the block ends without error.

        On SQLite the transactions of this process take turns: SQLite admits one writer
        at a time, and waiting in line costs nothing, whereas writers that contend for
        the file's lock sleep and retry (milliseconds each, growing) and make the
        slowest requests hundreds of times slower than the median.
        """
        started = time.perf_counter()
        try:
            with self._span(TRANSACTION_SPAN), integrity_as_domain_error():
                async with self._writer_turn(), self.sessionmaker() as db, db.begin():
                    yield db
        finally:
            DATABASE_SECONDS.observe(time.perf_counter() - started)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in one transaction, committed when it returns.

        For the hot path: `work` runs SQLAlchemy Core statements on a synchronous
        connection, all of them in one trip (on SQLite, the database's own thread; on
        PostgreSQL, the async driver under `run_sync`). Once started, the transaction
        runs to its end even if the caller is cancelled, so it never holds the writers'
        turn half-done.
        """
        with self._span(TRANSACTION_SPAN), integrity_as_domain_error():
            running = asyncio.ensure_future(self._run(work))
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                running.add_done_callback(_log_failure_nobody_awaits)
                raise

    async def _run(self, work: Callable[[Connection], T]) -> T:
        started = time.perf_counter()
        try:
            if self._sync_engine is None:
                async with self._writer_turn(), self.engine.begin() as connection:
                    return await connection.run_sync(work)
            # The thread runs its transactions back to back, with no trip through the
            # event loop between two of them; they only wait for a `transaction()`.
            await self._no_async_writer()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread(), self._run_in_thread, work)
        finally:
            DATABASE_SECONDS.observe(time.perf_counter() - started)

    def _run_in_thread(self, work: Callable[[Connection], T]) -> T:
        assert self._sync_engine is not None
        with self._sync_engine.begin() as connection:
            return work(connection)

    def _thread(self) -> ThreadPoolExecutor:
        if self._closed:
            raise RuntimeError("the database was closed")
        if self._sync_thread is None:
            self._sync_thread = ThreadPoolExecutor(1, thread_name_prefix="tt-sqlite")
        return self._sync_thread

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        if self._sqlite_writers is None:
            yield
            return
        async with self._sqlite_writers:
            if self._sync_thread is not None:
                # The thread's transactions submitted before this one end first.
                await asyncio.get_running_loop().run_in_executor(self._sync_thread, _nothing)
            yield

    async def _no_async_writer(self) -> None:
        writers = self._sqlite_writers
        while writers is not None and writers.locked():
            async with writers:
                pass

    async def ping(self) -> None:
        """Run `SELECT 1`; raises `DatabaseUnavailableError` when the database cannot
        be reached or does not answer within the timeouts."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        self._closed = True
        await self.engine.dispose()
        if self._sync_engine is not None:
            if self._sync_thread is not None:
                await asyncio.get_running_loop().run_in_executor(
                    self._sync_thread, self._sync_engine.dispose
                )
                self._sync_thread.shutdown()
                self._sync_thread = None
            self._sync_engine.dispose()


@contextmanager
def integrity_as_domain_error() -> Iterator[None]:
    """A unit of work that broke an integrity rule (a row it refers to was deleted, a
    unique value taken meanwhile) is rolled back and surfaces as `ConcurrentChangeError`:
    nothing above storage sees a database exception."""
    try:
        yield
    except IntegrityError as exc:
        raise ConcurrentChangeError(
            "the data changed meanwhile (a concurrent request); try again"
        ) from exc


def _nothing() -> None:
    return None


def _log_failure_nobody_awaits(running: asyncio.Future[Any]) -> None:
    if not running.cancelled() and running.exception() is not None:
        logger.error("a transaction whose caller had gone failed", exc_info=running.exception())


def _apply_sqlite_pragmas(
    dbapi_connection: Any, _record: ConnectionPoolEntry, *, busy_ms: int
) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in (f"PRAGMA busy_timeout={busy_ms}", *SQLITE_PRAGMAS):
            cursor.execute(pragma)
    finally:
        cursor.close()
