"""SQLite for the asyncio engine, executed on the event loop's own thread.

aiosqlite runs every call (cursor, execute, fetch, close, commit) on a worker
thread and hands the result back through the loop: about four thread hops per
statement. Measured on the core (bench/run.py) that hop, not SQLite, was most of
the time per message. A SQLite statement of ours takes tens of microseconds, and
with WAL and ``synchronous=NORMAL`` a commit does not wait for the disk, so
running the standard library's ``sqlite3`` inline is both faster and simpler.

What inline execution must not do is block the loop while another process holds
the write lock (an admin command, a backup). So the connection's own busy
timeout is short, and ``BEGIN IMMEDIATE`` — where a writer waits for the lock —
is retried here with ``asyncio.sleep`` between attempts, up to the same deadline
a writer had before.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, Connection
from sqlalchemy.util.concurrency import await_, in_greenlet

__all__ = ["DRIVER", "InlineSQLiteDialect", "begin_immediate", "register"]

DRIVER = "bvte_inline"
# Inline, the busy handler would freeze the loop: keep it to a blink.
INLINE_BUSY_TIMEOUT_MS = 50


async def _done() -> None:
    return None


def _checkpoint() -> None:
    # SQLAlchemy's AsyncConnection insists that an async driver awaited something
    # (AwaitRequired otherwise). Awaiting a finished coroutine switches greenlets
    # once and never reaches the event loop: microseconds, not a thread hop.
    if in_greenlet():
        await_(_done())


class _Cursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        super().execute(sql, parameters)
        _checkpoint()
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _Cursor:
        super().executemany(sql, seq_of_parameters)
        _checkpoint()
        return self

    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's asyncio results on an adapted cursor to buffer its
        rows; a sqlite3 cursor reads them in memory on this thread: nothing to do."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:  # noqa: D102 - sqlite3's signature
        return super().cursor(factory)


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, declared async so ``create_async_engine`` accepts it.

    The ORM drives a dialect through greenlets; a dialect that never awaits simply
    runs to completion inside ``greenlet_spawn`` without a switch.
    """

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        args, kwargs = super().create_connect_args(url)
        # One pooled connection, used only from the loop's thread; a pool finalizer
        # may still close it from the garbage collector's thread.
        kwargs["check_same_thread"] = False
        kwargs["factory"] = _Connection
        return args, kwargs


def begin_immediate(conn: Connection, deadline_s: float) -> None:
    """``BEGIN IMMEDIATE``, waiting for another process's write lock without blocking the loop."""
    raw: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
    give_up = time.monotonic() + deadline_s
    delay = 0.005
    while time.monotonic() < give_up:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                break  # not contention: let SQLAlchemy raise it, wrapped, below
        await_(asyncio.sleep(delay))
        delay = min(delay * 2, 0.1)
    # Last attempt through SQLAlchemy, so a failure is its usual OperationalError.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


_registered = False


def register() -> None:
    """Make ``sqlite+bvte_inline://`` known to SQLAlchemy (idempotent)."""
    global _registered
    if not _registered:
        from sqlalchemy.dialects import registry

        registry.register(f"sqlite.{DRIVER}", __name__, "InlineSQLiteDialect")
        _registered = True
