"""Run Alembic migrations programmatically (`bvte db upgrade` and start-up).

Feature migrations may form separate branches off the foundation, so we always
upgrade to "heads".
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from storage.db import create_engine, normalize_database_url

__all__ = ["alembic_config", "downgrade_base", "upgrade", "upgrade_async"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_database_url(url).replace("%", "%%"))
    return cfg


async def upgrade_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_with, alembic_config(url))
    finally:
        await engine.dispose()


def _upgrade_with(connection, cfg: Config) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "heads")


def _downgrade_with(connection, cfg: Config) -> None:
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, "base")


def upgrade(url: str) -> None:
    asyncio.run(upgrade_async(url))


async def downgrade_base(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade_with, alembic_config(url))
    finally:
        await engine.dispose()
