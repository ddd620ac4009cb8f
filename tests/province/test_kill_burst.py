"""SIGKILL a worker during a burst of 500 reports (the hotline intake through the
Telegram webhook). Afterwards every report exists and its officer was notified
exactly once.

Like Telegram, the test redelivers an update until a worker acknowledges it
(HTTP 200 after the commit). The only message that may legitimately arrive twice
is one that was in flight at the kill (sent, not yet recorded as sent): those are
read from the outbox right after the kill and are the only repeats tolerated.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from storage.db import create_engine, create_session_factory
from storage.models import OutboxMessage
from storage.models.hotline import Case
from storage.uow import UnitOfWork
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.province.procs import BvteRun, children_of, free_port
from tests.province.reporting import CODE_RE, ReplyIndex, prepare_db, report_flow
from tests.support.databases import pg_available_url, temp_database

# BVTE_BURST_REPORTS lowers the count for a quick local run; the issue asks for 500.
REPORTS = int(os.environ.get("BVTE_BURST_REPORTS", "500"))
CONCURRENCY = 100
OFFICERS = 25  # one per commune: Telegram allows one message per second per chat
KILL_AFTER = REPORTS * 3 // 10  # officer notifications seen before the kill
HOOK_SECRET = "burst-hook-secret-0123"
TOKEN = "31337:burst-token-abcdef"
NARRATIVES = [
    "Con nhà hàng xóm bị bố đánh nhiều ngày nay, người đầy vết bầm.",
    "Cháu bé nhà bên bị mẹ kế đánh đập, hay bỏ đói.",
    "Em học sinh lớp 3 bị người lớn trong nhà đánh, đi học có vết thương.",
]


async def _rows(url: str, query):
    engine = create_engine(url)
    try:
        async with UnitOfWork(create_session_factory(engine)) as uow:
            return (await uow.session.execute(query)).all()
    finally:
        await engine.dispose()


def _officer_notes(index: ReplyIndex, chats: list[int]) -> list[str]:
    return [t for chat in chats for t in index(chat) if CODE_RE.search(t)]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_sigkill_during_a_burst_of_reports(tmp_path: Path, backend: str) -> None:
    if backend == "postgres" and not pg_available_url():
        pytest.skip("needs BVTE_TEST_DATABASE_URL (PostgreSQL)")
    async with temp_database(backend, tmp_path) as url:
        targets = await prepare_db(url, extra_communes=OFFICERS - 1)
        officer_chats = [chat for _, chat in targets]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with FakeTelegramAPI(token=TOKEN, deliver_webhooks=False) as tg:
            env = {
                "BVTE_DATABASE_URL": url, "BVTE_TELEGRAM_TOKEN": tg.token,
                "BVTE_TELEGRAM_BASE_URL": tg.base_url, "BVTE_WEBHOOK_SECRET": HOOK_SECRET,
                "BVTE_WEBHOOK_PORT": str(port), "BVTE_LOG_LEVEL": "WARNING",
            }
            # PostgreSQL: two workers, and the parent restarts the one we kill.
            args = ("run", "--webhook", "--workers", "2") if backend == "postgres" else (
                "run", "--webhook")
            runs = [BvteRun(tmp_path, env, *args, name="run0")]
            await asyncio.to_thread(runs[0].wait_http, f"{base}/healthz", 60)
            index = ReplyIndex(tg).start()
            gate = asyncio.Semaphore(CONCURRENCY)
            http = httpx.AsyncClient(timeout=15)

            async def send(update: dict) -> None:
                while True:  # redeliver like Telegram until acknowledged
                    try:
                        r = await http.post(f"{base}/telegram", json=update, headers={
                            "X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET})
                        if r.status_code == 200:
                            return
                        assert r.status_code >= 500, r.text  # never refused as malformed
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.2)

            async def reporter(i: int) -> str:
                async with gate:
                    return await report_flow(index, tg, 100_000 + i, send,
                                             narrative=NARRATIVES[i % len(NARRATIVES)],
                                             commune=targets[i % len(targets)][0], timeout=180)

            in_flight: list[int] = []

            async def killer() -> None:
                while len(_officer_notes(index, officer_chats)) < KILL_AFTER:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                if backend == "postgres":
                    victim = min(children_of(runs[0].proc.pid))
                    os.kill(victim, signal.SIGKILL)  # the parent starts a new one
                else:
                    runs[0].proc.send_signal(signal.SIGKILL)
                    runs[0].proc.wait()
                rows = await _rows(url, select(OutboxMessage.id).where(
                    OutboxMessage.status == "sending"))
                in_flight.extend(r.id for r in rows)
                if backend == "sqlite":
                    await asyncio.sleep(0.5)  # a moment of outage: updates are redelivered
                    runs.append(BvteRun(tmp_path, env, *args, name="run1"))

            started = time.monotonic()
            try:
                kill = asyncio.create_task(killer())
                codes = await asyncio.gather(*(reporter(i) for i in range(REPORTS)))
                await kill
                # Wait for the outbox to empty (the officer's notes are the last to go).
                deadline = time.monotonic() + 60
                while True:
                    left = await _rows(url, select(OutboxMessage.id).where(
                        OutboxMessage.status.in_(["pending", "sending"])))
                    if not left:
                        break
                    assert time.monotonic() < deadline, f"{len(left)} messages never sent"
                    await asyncio.sleep(0.3)
                await asyncio.sleep(0.5)
            finally:
                await index.stop()
                await http.aclose()
                for run in runs:
                    if run.proc.poll() is None:
                        await asyncio.to_thread(run.terminate)
                    else:
                        run.kill()
            took = time.monotonic() - started

        assert in_flight is not None and len(runs) >= 1
        cases = {row.code for row in await _rows(url, select(Case.code))}
        assert len(codes) == REPORTS and set(codes) == cases  # every report exists, once
        notes = Counter(CODE_RE.search(t).group(0) for t in _officer_notes(index, officer_chats))
        assert set(notes) == cases  # every case reached the officer
        repeated = {code for code, n in notes.items() if n > 1}
        dead = await _rows(url, select(OutboxMessage.id).where(OutboxMessage.status == "dead"))
        assert not dead
        # A repeat is only possible for a message that was in flight at the kill.
        assert len(repeated) <= len(in_flight), (repeated, in_flight)
        for run in runs:
            assert "Traceback" not in run.output, run.output[-3000:]
        print(f"\n{backend}: {REPORTS} reports in {took:.1f}s, {len(in_flight)} in flight at "
              f"the kill, {len(repeated)} officer notes repeated")
