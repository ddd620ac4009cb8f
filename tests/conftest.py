"""Shared fixtures: databases on SQLite (always) and PostgreSQL (when configured),
and an in-process simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.support.databases import PG_ENV, pg_available_url, temp_database

BACKENDS = ["sqlite", "postgres"]


def pytest_sessionstart(session) -> None:
    """Train (or load) the understanding models once, before any test: the bot processes
    the tests start then load them from the model cache in a second instead of training
    for ~20 s inside a test's time-out."""
    from bot.app import knowledge_for
    from bot.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError:
        return  # the tests that need settings say what is wrong
    knowledge_for(settings.locale, settings.model_cache_path)


def pytest_report_header(config) -> str:
    url = pg_available_url()
    return f"PostgreSQL tests: {'ON (' + PG_ENV + ' set)' if url else 'OFF (' + PG_ENV + ' not set)'}"


@pytest.fixture(params=BACKENDS)
async def db_url(request, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database URL; the postgres variant needs BVTE_TEST_DATABASE_URL."""
    if request.param == "postgres" and not pg_available_url():
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} to run this on PostgreSQL")
    async with temp_database(request.param, tmp_path) as url:
        yield url


class SimHarness:
    """The simulator in-process: `await sim.send({...})` returns the output objects."""

    def __init__(self, simulator) -> None:
        self.simulator = simulator
        self.app = simulator.app
        self.clock = simulator.clock

    async def send(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        import json

        return await self.simulator.line(json.dumps(obj, ensure_ascii=False))

    async def say(self, user: str, text: str, **extra: Any) -> list[dict[str, Any]]:
        return await self.send({"from": user, "text": text, **extra})

    async def press(self, user: str, label: str | int, **extra: Any) -> list[dict[str, Any]]:
        return await self.send({"from": user, "press": label, **extra})


async def make_sim(db_url: str, start: datetime | None = None, **settings: Any) -> SimHarness:
    from bot.app import build_app
    from bot.channels.base import RecordingSender
    from bot.config import Settings
    from bot.sim import CHANNEL, Simulator
    from handlers.clock import SimClock

    clock = SimClock(start)
    recorder = RecordingSender()
    cfg = Settings(
        database_url=db_url, secret_key=SecretStr("test-secret-key-0123456789abcdef"),
        _env_file=None, **settings,
    )
    app = await build_app(cfg, clock=clock, senders={CHANNEL: recorder})
    return SimHarness(Simulator(app, clock, recorder, db_url))


@pytest.fixture
async def sim(db_url: str) -> AsyncIterator[SimHarness]:
    harness = await make_sim(db_url)
    try:
        yield harness
    finally:
        await harness.app.close()
