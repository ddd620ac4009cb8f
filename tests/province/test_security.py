"""Secrets and report content stay out of the logs, even at DEBUG level and while
the platforms fail in every way the fakes can."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.zalo_api import FakeZaloAPI
from tests.province.procs import BvteRun
from tests.province.reporting import OFFICER_CHAT, ReplyIndex, prepare_db, report_flow

TG_TOKEN = "987654:SECRETtgTOKENpart-abcdefghijkl"
NARRATIVE = "Bé Hoa ở xóm Đồi bị cha dượng quất roi mây mỗi tối, lưng đầy lằn đỏ"
PHONE = "0912345678"


def _forbidden(zalo_token: str) -> list[str]:
    return [
        TG_TOKEN, TG_TOKEN.split(":", 1)[1], zalo_token, zalo_token.split(":", 1)[1],
        "roi mây", "lằn đỏ", "xóm Đồi", PHONE, PHONE[1:], "webhook-secret-abcdef",
    ]


@pytest.mark.slow
async def test_no_token_or_report_content_in_debug_logs(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sec.db'}"
    await prepare_db(url)
    with FakeTelegramAPI(token=TG_TOKEN) as tg, FakeZaloAPI() as zalo:
        # Failures of every kind, before and during the conversation.
        tg.fail_next("getUpdates", 500, count=2)
        tg.fail_next("getUpdates", 502, count=1)
        tg.delay_next("getUpdates", 0.5, count=2)
        tg.fail_next("sendMessage", 500, count=2)
        tg.retry_after_next("sendMessage", 1, count=2)
        tg.fail_next("sendMessage", 401, count=1, description="Unauthorized")
        tg.fail_next("sendMessage", 400, count=1, description="Bad Request: chat not found")
        zalo.fail_next("getUpdates", 500, count=2)
        zalo.rate_limit("getUpdates", 2)
        zalo.fail_next("getUpdates", 401, count=1)
        zalo.push_event(text="xin chào", message_id="z-1")
        zalo.fail_next("sendMessage", 500, count=1)
        zalo.fail_next("sendMessage", 400, count=1)
        run = BvteRun(tmp_path, {
            "BVTE_DATABASE_URL": url, "BVTE_LOG_LEVEL": "DEBUG",
            "BVTE_TELEGRAM_TOKEN": tg.token, "BVTE_TELEGRAM_BASE_URL": tg.base_url,
            "BVTE_ZALO_TOKEN": zalo.token, "BVTE_ZALO_BASE_URL": zalo.base_url,
            "BVTE_WEBHOOK_SECRET": "webhook-secret-abcdef",
        }, "run")
        try:
            tg.make_message_update(777, "hi")  # the fake learns the chat

            async def send(update: dict) -> None:
                tg.push_update(update)

            # A throw-away first message takes the injected send failures.
            tg.push_message(778, "/start")
            code = await report_flow(ReplyIndex(tg), tg, 777, send, narrative=NARRATIVE,
                                     phone=PHONE, timeout=90)
            deadline = time.monotonic() + 30
            while not any(code in s.get("text", "") for s in tg.sent
                          if s["method"] == "sendMessage" and s["chat_id"] == OFFICER_CHAT):
                assert time.monotonic() < deadline, "the officer was not notified"
                await asyncio.sleep(0.1)
        finally:
            await asyncio.to_thread(run.terminate)
        log = run.output
    assert "DEBUG" in log  # the level really was DEBUG
    # The injected faults were logged: there was plenty that could have leaked.
    assert "poll failed" in log and "dropped" in log and "rejected the token" in log
    leaks = [word for word in _forbidden(zalo.token) if word in log]
    assert not leaks, leaks
    # The scrubber did have something to remove (or nothing tried to log it at all).
    assert "<redacted>" in log or TG_TOKEN not in log
