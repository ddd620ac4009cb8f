"""Starting with the database down: one clear line per attempt, back-off, no
traceback, no crash loop; the app comes up once the database answers."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from bot.config import Settings
from bot.runner import db_unavailable, open_app, with_db_retry
from tests.province.procs import BvteRun, free_port

DEAD_URL = "postgresql://bvte:db-password-xyz@127.0.0.1:{port}/bvte"


def _settings() -> Settings:
    return Settings(database_url=DEAD_URL.format(port=9), secret_key=SecretStr("k" * 32),
                    _env_file=None)


async def test_open_app_retries_until_the_database_answers(caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[float] = []
    app = object()

    async def flaky_build(settings, *, migrate):
        attempts.append(time.monotonic())
        if len(attempts) <= 3:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")
        return app

    caplog.set_level(logging.ERROR, logger="bvte.run")
    got = await open_app(_settings(), asyncio.Event(), build=flaky_build, base=0.05, cap=1.0)
    assert got is app
    assert len(attempts) == 4
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2  # exponential back-off
    lines = [r for r in caplog.records if r.name == "bvte.run"]
    assert len(lines) == 3
    for record in lines:
        message = record.getMessage()
        assert "database unavailable" in message and "ConnectionRefusedError" in message
        assert record.exc_info is None and "\n" not in message
        assert "db-password-xyz" not in message


async def test_retry_stops_when_told_to() -> None:
    stop = asyncio.Event()

    async def down():
        raise OperationalError("SELECT 1", {}, OSError("down"))

    loop = asyncio.get_running_loop()
    loop.call_later(0.3, stop.set)
    started = time.monotonic()
    done, result = await with_db_retry(down, stop, base=10, cap=10)
    assert (done, result) == (False, None)
    assert time.monotonic() - started < 2  # the back-off sleep wakes on stop


async def test_non_database_errors_are_not_retried() -> None:
    async def broken(settings, *, migrate):
        raise KeyError("a bug, not an outage")

    with pytest.raises(KeyError):
        await open_app(_settings(), asyncio.Event(), build=broken, base=0.01)
    assert db_unavailable(ConnectionRefusedError())
    assert db_unavailable(TimeoutError())
    assert not db_unavailable(ValueError())


@pytest.mark.slow
def test_bvte_run_with_the_database_down_waits_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    run = BvteRun(tmp_path, {
        "BVTE_DATABASE_URL": DEAD_URL.format(port=port),
        "BVTE_TELEGRAM_TOKEN": "777:db-down-test-token-abcdef",
    }, "run")
    try:
        deadline = time.monotonic() + 30
        while run.output.count("database unavailable") < 3:
            assert run.proc.poll() is None, run.output  # waiting, not exiting
            assert time.monotonic() < deadline, run.output
            time.sleep(0.1)
    finally:
        took = run.terminate()
    assert took < 10
    assert run.proc.returncode == 0
    out = run.output
    assert "Traceback" not in out
    assert "db-password-xyz" not in out and "db-down-test-token" not in out
    lines = [line for line in out.splitlines() if "database unavailable" in line]
    assert all(re.search(r"ERROR bvte\.run: database unavailable at postgresql.*retry \d+ in", line)
               for line in lines), lines
    delays = [float(m) for m in re.findall(r"retry \d+ in ([\d.]+)s", out)]
    assert delays[1] > delays[0] and delays[2] > delays[1]  # backing off
