"""Engine and session factories. No module-level instances: the app owns them."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_inline

__all__ = ["PG_POOL_SIZE", "InvalidDatabaseURL", "create_engine", "dialect_of", "create_session_factory", "normalize_database_url"]

# A SQLite writer waits this long for another process's write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000


# PostgreSQL connections kept per process (and as many more on demand).
PG_POOL_SIZE = 10


class InvalidDatabaseURL(ValueError):
    """The configured database URL cannot be used."""


def normalize_database_url(url: str) -> str:
    """Map plain driver names to their asyncio drivers (postgresql -> asyncpg)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidDatabaseURL(str(exc)) from None
    backend = parsed.get_backend_name()
    driver = parsed.get_driver_name()
    if backend == "sqlite":
        if driver != "aiosqlite":
            parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend == "postgresql":
        if driver != "asyncpg":
            parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise InvalidDatabaseURL(f"unsupported database backend {backend!r}")
    return parsed.render_as_string(hide_password=False)


def dialect_of(session: AsyncSession) -> str:
    """"postgresql" or "sqlite": the backend a session runs on."""
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection, _record, *, busy_timeout_ms: int) -> None:
    # Take transaction control from the driver (SQLAlchemy's documented recipe):
    # otherwise pysqlite commits SAVEPOINTs on its own and a rollback is partial.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Overwrite deleted content (purged personal data must not linger in free pages).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _inline_pragmas(dbapi_connection, record) -> None:
    # A short busy handler: waiting for a writer happens in begin_immediate, which
    # sleeps on the event loop instead of freezing it.
    _sqlite_pragmas(dbapi_connection, record, busy_timeout_ms=sqlite_inline.INLINE_BUSY_TIMEOUT_MS)


def _threaded_pragmas(dbapi_connection, record) -> None:
    _sqlite_pragmas(dbapi_connection, record, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)


# IMMEDIATE: take the write lock up front, so two writers queue instead of failing
# on a read-to-write lock upgrade.
def _inline_begin(conn) -> None:
    sqlite_inline.begin_immediate(conn, SQLITE_BUSY_TIMEOUT_MS / 1000)


def _threaded_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, echo: bool = False, sqlite_threaded: bool = False) -> AsyncEngine:
    """The app's engine. ``sqlite_threaded`` keeps aiosqlite's worker thread (the
    benchmark's baseline) instead of running SQLite inline."""
    url = normalize_database_url(url)
    if is_sqlite(url):
        # One pooled connection: opening a SQLite connection (and its pragmas) costs
        # far more than a transaction, and SQLite runs one writer at a time anyway —
        # waiting in the pool's queue is fair, SQLite's busy handler is not (writers
        # starve into "database is locked"). Every transaction begins afresh
        # (BEGIN IMMEDIATE), so the connection never reads a stale snapshot.
        # Statements run inline on the event loop (storage/sqlite_inline.py explains why).
        if not sqlite_threaded:
            sqlite_inline.register()
            url = make_url(url).set(drivername=f"sqlite+{sqlite_inline.DRIVER}")
        engine = create_async_engine(url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60)
        threaded = sqlite_threaded
        event.listen(engine.sync_engine, "connect", _threaded_pragmas if threaded else _inline_pragmas)
        event.listen(engine.sync_engine, "begin", _threaded_begin if threaded else _inline_begin)
    else:
        engine = create_async_engine(
            url, echo=echo, pool_pre_ping=True, pool_size=PG_POOL_SIZE, max_overflow=PG_POOL_SIZE
        )
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
