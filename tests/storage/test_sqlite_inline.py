"""SQLite run inline on the event loop (storage/sqlite_inline.py)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage import db
from storage.db import create_engine, create_session_factory


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "inline.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    con.commit()
    con.close()
    return path


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's writer (an admin command, a backup) in the middle of a transaction."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t (v) VALUES ('other')")
    return other


async def test_statements_run_through_core_session_and_raw_sql(db_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    try:
        assert engine.dialect.driver == "bvte_inline"
        async with engine.begin() as conn:  # AsyncConnection requires an awaiting driver
            await conn.exec_driver_sql("INSERT INTO t (v) VALUES ('a')")
            await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}])
        async with create_session_factory(engine)() as session:
            rows = (await session.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all()
        assert rows == ["a", "b", "c"]
    finally:
        await engine.dispose()


async def test_waiting_for_another_writer_keeps_the_loop_running(db_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    other = _hold_write_lock(db_path)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("INSERT INTO t (v) VALUES ('mine')")

    tick_task = asyncio.create_task(ticker())
    try:
        writer = asyncio.create_task(write())
        await asyncio.sleep(0.4)
        assert not writer.done()  # still waiting for the lock ...
        # ... while other tasks ran: a loop frozen by the busy handler would tick once; each
        # 50 ms lock attempt lets the ticker in (under CPU load, fewer than the ideal ~20).
        assert ticks >= 5
        other.execute("COMMIT")
        await asyncio.wait_for(writer, 5)
        got = [r[0] for r in other.execute("SELECT v FROM t ORDER BY id")]
        assert got == ["other", "mine"]
    finally:
        tick_task.cancel()
        other.close()
        await engine.dispose()


async def test_a_writer_gives_up_after_the_deadline(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    other = _hold_write_lock(db_path)
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"):
            async with engine.begin() as conn:
                await conn.exec_driver_sql("INSERT INTO t (v) VALUES ('late')")
        assert 0.25 < time.monotonic() - started < 3
    finally:
        other.execute("ROLLBACK")
        other.close()
        await engine.dispose()


async def test_threaded_baseline_still_works(db_path: Path) -> None:
    engine = create_engine(f"sqlite:///{db_path}", sqlite_threaded=True)
    try:
        assert engine.dialect.driver == "aiosqlite"
        async with engine.begin() as conn:
            await conn.exec_driver_sql("INSERT INTO t (v) VALUES ('t')")
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    finally:
        await engine.dispose()
