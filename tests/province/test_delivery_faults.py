"""The fake Bot APIs answer 500s, 429s and time out for a while: every queued
message still arrives, and exactly once when the failures were answers.

A send that timed out may have been delivered by the platform anyway (neither
Telegram nor Zalo has an idempotency key), so after a timeout the outbox's retry
can repeat that one message: the test bounds those repeats by the timeouts.
The clock is simulated so back-offs and retry-after waits pass at once.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.channels.telegram.adapter import TelegramChannel, WebhookConfig
from bot.channels.zalo.adapter import ZaloChannel, ZaloWebhookConfig
from bot.config import Settings
from handlers.clock import SimClock
from storage.models import OutboxMessage
from storage.repositories import outbox as outbox_repo
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.zalo_api import FakeZaloAPI

N_CHATS = 15
PER_CHAT = 4


async def _app(db_url: str, channel_name: str, channel, clock: SimClock) -> App:
    cfg = Settings(database_url=db_url, secret_key=SecretStr("faults-secret-key-0123456789abcd"),
                   _env_file=None)
    app = await build_app(cfg, clock=clock, senders={channel_name: channel}, with_knowledge=False)
    await channel.start(app)
    return app


async def _enqueue(app: App, channel: str, chat_ids: list[str], clock: SimClock) -> list[str]:
    texts = []
    async with app.uow() as uow:
        for n in range(PER_CHAT):
            for chat in chat_ids:
                text = f"tin {n} cho {chat}"
                texts.append(text)
                await outbox_repo.enqueue(uow.session, channel=channel, chat_id=chat, text=text,
                                          now=clock.now())
    return texts


async def _deliver_all(app: App, clock: SimClock, rounds: int = 200) -> None:
    """Drain; when only retries are left, jump the clock to the next one."""
    for _ in range(rounds):
        await app.dispatcher.drain()
        async with app.uow() as uow:
            left = await outbox_repo.pending_count(uow.session)
        if left == 0:
            return
        due = await app.dispatcher.next_due()
        if due is not None and due > clock.now():
            clock.set(due + timedelta(milliseconds=1))
    raise AssertionError("the outbox did not empty")


async def _statuses(app: App) -> dict[str, int]:
    async with app.uow() as uow:
        rows = await uow.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return dict(rows.all())


@pytest.mark.parametrize("faults", ["errors", "timeouts"])
async def test_telegram_faults(db_url: str, faults: str) -> None:
    clock = SimClock()
    with FakeTelegramAPI(token="6161:faults-token-abcdef", deliver_webhooks=False) as tg:
        channel = TelegramChannel(tg.token, base_url=tg.base_url,
                                  webhook=WebhookConfig("127.0.0.1", 1, "telegram", "", "s" * 16))
        app = await _app(db_url, "telegram", channel, clock)
        try:
            chats = [str(7000 + i) for i in range(N_CHATS)]
            for chat in chats:  # the fake only knows chats it has seen
                tg.make_message_update(int(chat), "hi")
            texts = await _enqueue(app, "telegram", chats, clock)
            timeouts = 0
            if faults == "errors":
                tg.fail_next("sendMessage", 500, count=8)
                tg.fail_next("sendMessage", 502, count=4)
                tg.retry_after_next("sendMessage", 3, count=8)
            else:
                timeouts = 2  # PTB's read timeout is 5 s
                tg.delay_next("sendMessage", 6.0, count=timeouts)
                tg.fail_next("sendMessage", 500, count=4)
            await _deliver_all(app, clock)
            delivered = Counter(s["text"] for s in tg.sent
                                if s["method"] == "sendMessage" and s["status"] == 200)
            assert set(delivered) == set(texts)
            repeats = sum(n - 1 for n in delivered.values())
            if faults == "errors":
                assert repeats == 0, [t for t, n in delivered.items() if n > 1]
                assert tg.count_429 == 8
                failed = [s for s in tg.sent if s["method"] == "sendMessage" and s["status"] != 200]
                assert len(failed) == 20  # every injected failure was met, and survived
            else:
                assert repeats <= timeouts
            assert await _statuses(app) == {"sent": len(texts)}
            # Each chat's messages arrived in the order they were queued.
            for chat in chats[:3]:
                order = [s["text"] for s in tg.sent if s["method"] == "sendMessage"
                         and s["status"] == 200 and str(s["chat_id"]) == chat]
                firsts = list(dict.fromkeys(order))
                assert firsts == [f"tin {n} cho {chat}" for n in range(PER_CHAT)]
        finally:
            await channel.stop()
            await app.close()


@pytest.mark.parametrize("faults", ["errors", "timeouts"])
async def test_zalo_faults(db_url: str, faults: str, tmp_path: Path) -> None:
    clock = SimClock()
    with FakeZaloAPI() as zalo:
        channel = ZaloChannel(zalo.token, base_url=zalo.base_url, http_timeout=1.0,
                              webhook=ZaloWebhookConfig(url=None, secret_token="s" * 16))
        app = await _app(db_url, "zalo", channel, clock)
        try:
            chats = [f"zc{i:03d}" for i in range(N_CHATS)]
            texts = await _enqueue(app, "zalo", chats, clock)
            timeouts = 0
            if faults == "errors":
                zalo.fail_next("sendMessage", 500, count=8)
                zalo.rate_limit("sendMessage", 8)
                zalo.fail_next("sendMessage", 500, count=3, http_200=True)
            else:
                timeouts = 3
                zalo.delay_next("sendMessage", 2.0, count=timeouts)
                zalo.rate_limit("sendMessage", 4)
            await _deliver_all(app, clock)
            delivered = Counter(s["text"] for s in zalo.sent_of("sendMessage"))
            assert set(delivered) == set(texts)
            repeats = sum(n - 1 for n in delivered.values())
            if faults == "errors":
                assert repeats == 0, [t for t, n in delivered.items() if n > 1]
                failed = [c for c in zalo.calls_of("sendMessage") if c["status"] != 200 or
                          c.get("failed")]
                assert len([c for c in zalo.calls_of("sendMessage")]) == len(texts) + 19
                assert len(failed) >= 16
            else:
                assert repeats <= timeouts
            assert await _statuses(app) == {"sent": len(texts)}
        finally:
            await channel.stop()
            await app.close()
