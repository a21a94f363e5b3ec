"""The one place where a database that is down, frozen or overloaded becomes a domain error.

Every engine `Database` opens is given `raise_unavailable_as_domain_error`: whatever the
driver raises when the database cannot be reached or did not answer in time becomes a
`DatabaseUnavailableError` (503 `database_unavailable`) before it leaves storage.
Failures come through two doors, and both are watched:

- a statement, a commit or a rollback: SQLAlchemy's `handle_error` engine event sees the
  driver's error, raw timeouts included (asyncpg's `command_timeout` raises a bare
  `TimeoutError`), and decides whether the connection must be thrown away;
- getting a connection: a pool timeout, a refused or timed-out connect, a server that is
  starting or out of slots. These never reach `handle_error` (they are not the driver's
  DB-API errors, or they happen before any connection exists), so the PostgreSQL pool's
  `connect()` translates them itself (`UnavailableWithoutConnectionPool`).

A failed pre-ping is left alone: the pool then opens a fresh connection, which is what
makes recovery automatic once the database is back.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import Engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolProxiedConnection

from thinkingthoughts.errors import DatabaseUnavailableError

UNAVAILABLE_MESSAGE = "the database is unavailable; try again shortly"

POSTGRES_UNAVAILABLE_STATES = ("08", "53", "57P", "57014")
"""SQLSTATE prefixes meaning 'not now' rather than 'wrong': connection exceptions (08),
insufficient resources (53: too many connections, out of memory or disk), the server
shutting down or starting (57P01-57P03), and a statement cancelled by its timeout (57014)."""

SQLITE_UNAVAILABLE_MESSAGES = ("locked", "busy", "unable to open", "disk i/o")
"""SQLite errors meaning the file cannot be used right now: its lock was not had within
the busy timeout, or the file (or its disk) cannot be reached."""


def means_unavailable(error: BaseException, *, connection_lost: bool = False) -> bool:
    """True when `error` says the database cannot serve now, not that a request was wrong.

    `connection_lost`: SQLAlchemy already judged the connection dead (a disconnect).
    """
    if connection_lost or isinstance(error, TimeoutError | OSError | sa_exc.TimeoutError):
        return True
    for cause in (error, error.__cause__):
        state = getattr(cause, "sqlstate", None)
        if isinstance(state, str) and state.startswith(POSTGRES_UNAVAILABLE_STATES):
            return True
    if isinstance(error, sqlite3.OperationalError) or _is_sqlite_operational(error):
        return any(words in str(error).lower() for words in SQLITE_UNAVAILABLE_MESSAGES)
    return False


def _is_sqlite_operational(error: BaseException) -> bool:
    # aiosqlite re-raises sqlite3's own classes; the SQLAlchemy wrapper keeps the original.
    original = getattr(error, "orig", None)
    return isinstance(original, sqlite3.OperationalError)


def unavailable_error() -> DatabaseUnavailableError:
    """The domain error; the driver's words stay in the traceback (its cause), for the log."""
    return DatabaseUnavailableError(UNAVAILABLE_MESSAGE)


def raise_unavailable_as_domain_error(engine: Engine) -> None:
    """Translate `engine`'s statement failures that mean 'unavailable' (see module doc)."""
    event.listen(engine, "handle_error", _translate_statement_failure)


def _translate_statement_failure(context: ExceptionContext) -> BaseException | None:
    if context.is_pre_ping:
        return None  # the pool reconnects on its own
    error = context.original_exception
    if isinstance(error, TimeoutError | OSError):
        # No answer in time: the connection's state is unknown, never reuse it.
        context.is_disconnect = True
    if not means_unavailable(error, connection_lost=context.is_disconnect):
        return None
    return unavailable_error()  # raised from `error`


class UnavailableWithoutConnectionPool(AsyncAdaptedQueuePool):
    """The async queue pool, whose failure to hand out a connection is the domain error.

    Any failure to get one (the pool's own timeout, a refused or timed-out connect, a
    server refusing new sessions) means the database is unavailable to this request.
    """

    def connect(self) -> PoolProxiedConnection:
        try:
            return super().connect()
        except DatabaseUnavailableError:
            raise
        except Exception as failure:
            raise unavailable_error() from failure
