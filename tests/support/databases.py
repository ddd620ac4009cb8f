"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL database
(created next to BVTE_TEST_DATABASE_URL and dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

__all__ = ["PG_ENV", "pg_available_url", "temp_database", "temp_postgres"]

PG_ENV = "BVTE_TEST_DATABASE_URL"


def pg_available_url() -> str | None:
    url = os.environ.get(PG_ENV, "").strip()
    return url or None


@asynccontextmanager
async def temp_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    base = pg_available_url()
    assert base is not None
    async with temp_postgres(base) as url:
        yield url


@asynccontextmanager
async def temp_postgres(base: str, prefix: str = "bvte_t") -> AsyncIterator[str]:
    """A fresh PostgreSQL database on the server of `base`, dropped afterwards."""
    admin_url = make_url(base).set(drivername="postgresql+asyncpg")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
