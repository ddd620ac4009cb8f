"""Engine and session factories. No module-level instances: the app owns them."""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from storage import sqlite_inline

__all__ = [
    "PG_POOL_SIZE", "InvalidDatabaseURL", "Prepared", "create_engine", "create_session_factory",
    "dialect_of", "normalize_database_url", "on_async_session",
]

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


_P = ParamSpec("_P")
_R = TypeVar("_R")


def on_async_session(
    fn: Callable[Concatenate[Session, _P], _R], doc: str,
) -> Callable[Concatenate[AsyncSession, _P], Awaitable[_R]]:
    """The async twin of a function written for a synchronous Session, with its signature:
    all of its statements run in one greenlet hop (`AsyncSession.run_sync`), not one each."""

    async def twin(session: AsyncSession, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return await session.run_sync(fn, *args, **kwargs)

    twin.__name__ = twin.__qualname__ = fn.__name__.removesuffix("_sync")
    twin.__module__ = fn.__module__
    twin.__doc__ = doc
    return twin


class _Plan:
    """A statement compiled for one dialect: its SQL, its parameters in order with
    their bind processors, and its result columns' processors."""

    __slots__ = ("compiled", "binds", "results", "sql")

    def __init__(self, stmt: Executable, dialect: Dialect, keys: Sequence[str] | None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        self.compiled = compiled
        self.sql = compiled.string
        binds = compiled.binds
        self.binds: list[tuple[str, Callable[[Any], Any] | None]] = [
            (name, binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        ]
        columns = getattr(stmt, "selected_columns", None)
        if columns is None:  # DML with RETURNING is not planned (see Prepared)
            self.results: list[Callable[[Any], Any] | None] = []
        else:
            self.results = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            ]


class _Outcome:
    """What a Prepared statement's callers read: rowcount, lastrowid, first()."""

    __slots__ = ("lastrowid", "row", "rowcount")

    def __init__(self, rowcount: int, lastrowid: int | None, row: tuple | None) -> None:
        self.rowcount, self.lastrowid, self.row = rowcount, lastrowid, row

    def first(self) -> tuple | None:
        return self.row

    def scalar(self) -> Any:
        return self.row[0] if self.row is not None else None


class Prepared:
    """A prebuilt Core statement of the per-message hot path (an INSERT, an UPDATE
    or a single-row SELECT), executed on a synchronous Connection.

    With the inline SQLite driver it runs on a plain sqlite3 cursor with the SQL,
    the parameter order and the bind/result processors SQLAlchemy compiled for it
    once: SQLAlchemy's per-execution work (cache key, execution context, result
    object) cost several times SQLite's own. Errors are raised as SQLAlchemy's, like
    any statement's. Other drivers (PostgreSQL, aiosqlite) run it through
    Connection.execute. `keys`: an INSERT's columns (every execution gives exactly
    these; without them, all of the table's)."""

    __slots__ = ("_plans", "keys", "new_id", "stmt")

    def __init__(
        self, stmt: Executable, keys: Sequence[str] | None = None, *, new_id: bool = False
    ) -> None:
        self.stmt = stmt
        self.keys = tuple(keys) if keys else None
        self.new_id = new_id  # an INSERT whose new primary key the caller reads (lastrowid)
        self._plans: weakref.WeakKeyDictionary[Dialect, _Plan] = weakref.WeakKeyDictionary()

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        dialect = conn.dialect
        if dialect.driver != sqlite_inline.DRIVER:
            result = conn.execute(self.stmt, params)
            return _Outcome(
                result.rowcount,
                result.inserted_primary_key[0] if self.new_id else None,
                result.first() if result.returns_rows else None,
            )
        plan = self._plans.get(dialect)
        if plan is None:
            plan = self._plans[dialect] = _Plan(self.stmt, dialect, self.keys)
        values = plan.compiled.construct_params(params)
        args = [
            processor(values[name]) if processor is not None else values[name]
            for name, processor in plan.binds
        ]
        raw = conn.connection.driver_connection
        cursor = sqlite3.Cursor(raw)  # a plain cursor: no greenlet checkpoint needed here
        try:
            cursor.execute(plan.sql, args)
            row = cursor.fetchone() if plan.results else None
        except sqlite3.Error as err:
            raise DBAPIError.instance(plan.sql, args, err, sqlite3.Error) from err
        finally:
            rowcount, lastrowid = cursor.rowcount, cursor.lastrowid
            cursor.close()
        if row is not None:
            row = tuple(
                processor(value) if processor is not None else value
                for processor, value in zip(plan.results, row, strict=True)
            )
        return _Outcome(rowcount, lastrowid, row)
