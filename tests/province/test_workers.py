"""Several workers, one outbox: each message is sent exactly once.

In process: two Dispatchers (two "workers") racing on one database, including a
dead worker's lease taken over. As processes: `bvte run --webhook --workers 2`
on PostgreSQL serving the Telegram and Zalo webhooks on one port.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from handlers.clock import SimClock
from handlers.delivery import Dispatcher
from handlers.messages import Outbound, SendResult
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_async
from storage.models import OutboxMessage
from storage.repositories import outbox as outbox_repo
from storage.uow import UnitOfWork
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.zalo_api import FakeZaloAPI, make_event
from tests.province.procs import BvteRun, children_of, free_port, get_json
from tests.support.databases import pg_available_url, temp_database

HOOK_SECRET = "workers-hook-secret-0123"


class SlowSender:
    """Records every send; yields to the loop so two dispatchers interleave."""

    def __init__(self, log: list[int], name: str) -> None:
        self.log = log
        self.name = name
        self.by_me = 0

    async def send(self, out: Outbound) -> SendResult:
        await asyncio.sleep(0.001)
        self.log.append(out.id)
        self.by_me += 1
        return SendResult(platform_message_id=str(out.id))


async def test_two_dispatchers_one_outbox_send_each_message_once(db_url: str) -> None:
    await upgrade_async(db_url)
    engines = [create_engine(db_url), create_engine(db_url)]
    factories = [create_session_factory(e) for e in engines]
    clock = SimClock()
    sent: list[int] = []
    try:
        async with UnitOfWork(factories[0]) as uow:
            for i in range(400):
                await outbox_repo.enqueue(
                    uow.session, channel="telegram", chat_id=str(i % 37), text=f"m{i}",
                    now=clock.now(), priority=i % 10,
                )
        senders = [SlowSender(sent, "a"), SlowSender(sent, "b")]
        dispatchers = [
            Dispatcher(lambda f=f: UnitOfWork(f), {"telegram": s}, clock, batch=20)
            for f, s in zip(factories, senders, strict=True)
        ]
        await asyncio.gather(*(d.drain() for d in dispatchers))
        counts = Counter(sent)
        assert len(counts) == 400
        assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1][:5]
        assert all(s.by_me > 0 for s in senders)  # both really worked
        async with UnitOfWork(factories[0]) as uow:
            statuses = dict((await uow.session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )).all())
        assert statuses == {"sent": 400}
    finally:
        for e in engines:
            await e.dispose()


async def test_a_dead_workers_lease_is_taken_over_after_expiry(db_url: str) -> None:
    await upgrade_async(db_url)
    engine = create_engine(db_url)
    factory = create_session_factory(engine)
    clock = SimClock()
    try:
        async with UnitOfWork(factory) as uow:
            for i in range(5):
                await outbox_repo.enqueue(uow.session, channel="telegram", chat_id="c",
                                          text=f"m{i}", now=clock.now())
        # Worker A claims everything, then "dies" (never sends, never marks).
        async with UnitOfWork(factory) as uow:
            taken = await outbox_repo.claim_due(
                uow.session, now=clock.now(), owner="dead-worker", lease=timedelta(seconds=60)
            )
        assert len(taken) == 5
        sent: list[int] = []
        b = Dispatcher(lambda: UnitOfWork(factory), {"telegram": SlowSender(sent, "b")}, clock)
        assert await b.drain() == 0  # leased: not B's yet
        clock.advance(timedelta(seconds=61))
        assert await b.drain() == 5
        assert sorted(sent) == sorted(r.id for r in taken)
        # A comes back late: its outcome no longer counts (it does not own the rows).
        async with UnitOfWork(factory) as uow:
            assert not await outbox_repo.mark_sent(
                uow.session, taken[0].id, owner="dead-worker", now=clock.now(), platform_id=None
            )
    finally:
        await engine.dispose()


# --------------------------------------------------------------------- processes


def test_sqlite_refuses_several_workers(tmp_path: Path) -> None:
    run = BvteRun(tmp_path, {
        "BVTE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        "BVTE_TELEGRAM_TOKEN": "123:not-used-token-abcdef",
    }, "run", "--webhook", "--workers", "2")
    assert run.proc.wait(timeout=30) == 2
    out = run.output
    assert "SQLite" in out and "PostgreSQL" in out
    assert "Traceback" not in out
    assert len([line for line in out.splitlines() if line.strip()]) == 1
    run.kill()


def test_workers_need_webhook_mode(tmp_path: Path) -> None:
    run = BvteRun(tmp_path, {
        "BVTE_DATABASE_URL": "postgresql://u@127.0.0.1:9/none",
        "BVTE_TELEGRAM_TOKEN": "123:not-used-token-abcdef",
    }, "run", "--workers", "3")
    assert run.proc.wait(timeout=30) == 2
    assert "--webhook" in run.output and "Traceback" not in run.output
    run.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and ") Z" not in stat.read_text()


@pytest.mark.slow
async def test_two_workers_on_postgres_serve_both_webhooks_once(tmp_path: Path) -> None:
    if not pg_available_url():
        pytest.skip("needs BVTE_TEST_DATABASE_URL (PostgreSQL)")
    async with temp_database("postgres", tmp_path) as url:
        await upgrade_async(url)
        port = free_port()
        with FakeTelegramAPI(token="4242:workers-tg-token-abcdef", deliver_webhooks=False) as tg, \
                FakeZaloAPI() as zalo:
            run = BvteRun(tmp_path, {
                "BVTE_DATABASE_URL": url,
                "BVTE_TELEGRAM_TOKEN": tg.token, "BVTE_TELEGRAM_BASE_URL": tg.base_url,
                "BVTE_ZALO_TOKEN": zalo.token, "BVTE_ZALO_BASE_URL": zalo.base_url,
                "BVTE_WEBHOOK_SECRET": HOOK_SECRET, "BVTE_WEBHOOK_PORT": str(port),
            }, "run", "--webhook", "--workers", "2")
            base = f"http://127.0.0.1:{port}"
            try:
                await asyncio.to_thread(run.wait_http, f"{base}/healthz")
                await asyncio.to_thread(run.wait_for_output, "worker 1 started")
                pids = {int(p) for p in re.findall(r"worker \d started \(pid (\d+)\)", run.output)}
                assert len(pids) == 2 and pids <= children_of(run.proc.pid)
                status, body = await asyncio.to_thread(get_json, f"{base}/healthz")
                assert status == 200 and '"db":"ok"' in body.replace(" ", "")

                async with httpx.AsyncClient(timeout=20) as http:
                    async def tg_post(i: int) -> int:
                        update = tg.make_message_update(5000 + i, "/start")
                        r = await http.post(f"{base}/telegram", json=update,
                                            headers={"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET})
                        return r.status_code

                    async def zalo_post(i: int) -> int:
                        event = {"ok": True, "result": make_event(text="/start", chat_id=f"z{i:04d}")}
                        r = await http.post(f"{base}/zalo", json=event,
                                            headers={"X-Bot-Api-Secret-Token": HOOK_SECRET})
                        return r.status_code

                    codes = await asyncio.gather(*(tg_post(i) for i in range(40)),
                                                 *(zalo_post(i) for i in range(40)))
                assert set(codes) == {200}
                engine = create_engine(url)
                try:
                    deadline = time.monotonic() + 40
                    while True:
                        async with UnitOfWork(create_session_factory(engine)) as uow:
                            rows = (await uow.session.execute(
                                select(OutboxMessage.channel, OutboxMessage.chat_id,
                                       OutboxMessage.status, OutboxMessage.lease_owner)
                            )).all()
                        if rows and all(r.status == "sent" for r in rows):
                            break
                        assert time.monotonic() < deadline, Counter(r.status for r in rows)
                        await asyncio.sleep(0.3)
                finally:
                    await engine.dispose()
                expected = Counter((r.channel, r.chat_id) for r in rows)
                got = Counter(("telegram", str(s["chat_id"])) for s in tg.sent
                              if s["method"] == "sendMessage" and s["status"] == 200)
                got += Counter(("zalo", s["chat_id"]) for s in zalo.sent_of("sendMessage"))
                assert len({c for c, _ in expected}) == 2 and len(expected) == 80
                assert got == expected  # every queued message delivered, none twice
                assert len({r.lease_owner for r in rows}) == 2  # both workers delivered

                # A worker killed outright is started again by the parent.
                victim = sorted(pids)[0]
                os.kill(victim, signal.SIGKILL)
                await asyncio.to_thread(run.wait_for_output, "restarting in", 15)
                deadline = time.monotonic() + 15
                while len(children_of(run.proc.pid) - {victim}) < 2:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.1)
                children = children_of(run.proc.pid)
            finally:
                took = await asyncio.to_thread(run.terminate, 12.0)
        assert took < 10, took
        assert run.proc.returncode == 0, run.output[-2000:]
        assert not any(_alive(p) for p in children | pids)
        out = run.output
        assert "Traceback" not in out
        assert tg.token not in out and zalo.token not in out
