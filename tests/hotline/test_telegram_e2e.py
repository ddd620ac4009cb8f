"""The acceptance flow end to end through the fake Telegram Bot API: the real
adapter (python-telegram-bot, polling), the outbox dispatcher and the runner."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import build_app
from bot.channels.telegram.adapter import TelegramChannel
from bot.runner import Runner
from bot.sim import EXAMPLE_COMMUNES
from handlers.hotline.codes import new_invite_code
from handlers.hotline.communes import load_communes_file
from storage.models.hotline import InviteCode
from storage.repositories import hotline as repo
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.hotline.conftest import make_settings

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")]

REPORTER, OFFICER, SUPERVISOR, GROUP = 111, 222, 333, -100500


async def _wait(tg: FakeTelegramAPI, chat: int, needle: str, count: int = 1) -> dict:
    found = await tg.wait_for_async(
        lambda e: e["method"] == "sendMessage" and e.get("status") == 200
        and e.get("chat_id") == chat and needle in e.get("text", ""),
        timeout=20, count=count,
    )
    return found[-1]


def _buttons(entry: dict) -> list[tuple[str, str]]:
    markup = entry.get("reply_markup") or {}
    return [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]


async def test_report_claim_follow_close_over_telegram(tmp_path: Path) -> None:
    app = await build_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'tg.db'}"))
    now = app.services.clock.now()
    codes = {new_invite_code(): role for role in ("officer", "supervisor", "province")}
    officer_code, supervisor_code, group_code = list(codes)
    async with app.uow() as uow:
        await load_communes_file(uow.session, EXAMPLE_COMMUNES, now=now)
        commune = await repo.commune_by_slug(uow.session, slug="quan-son")
        for code, role in codes.items():
            uow.session.add(InviteCode(code=code, commune_id=commune.id, role=role, created_at=now,
                                       expires_at=now + timedelta(days=1)))
    with FakeTelegramAPI(max_hold=0.3) as tg:
        channel = TelegramChannel(tg.token, base_url=tg.base_url)
        app.add_sender("telegram", channel)
        await channel.start(app)
        runner = Runner(app, tick_seconds=0.2)
        runner.start()
        try:
            tg.push_message(OFFICER, f"/dangky {officer_code}")
            await _wait(tg, OFFICER, "Đã đăng ký")
            tg.push_message(SUPERVISOR, f"/dangky {supervisor_code}")
            await _wait(tg, SUPERVISOR, "Đã đăng ký")
            tg.push_message(GROUP, f"/nhom {group_code}", user_id=SUPERVISOR, chat_type="group")
            await _wait(tg, GROUP, "Nhóm này sẽ nhận tin báo")

            tg.push_message(REPORTER, "/start quan-son")
            await _wait(tg, REPORTER, "Xin chào")
            tg.push_message(REPORTER, "/baotin")
            await _wait(tg, REPORTER, "Chuyện gì đã xảy ra")
            tg.push_message(REPORTER, "Bé hàng xóm bị bố đánh, người đầy vết bầm")
            steps = [("report:cat:violence", "Trẻ có đang gặp nguy hiểm"),
                     ("report:danger:no", "bao nhiêu tuổi"),
                     ("report:age:6-10", "Ở thôn, bản, khu nào"),
                     ("report:village:1", "khi nào"),
                     ("report:when:today", "Bạn là ai"),
                     ("report:rel:neighbour", "giấu tên"),
                     ("report:contact:anon", "Bạn kiểm tra lại tin báo")]
            await _wait(tg, REPORTER, "Chuyện này gần nhất")
            for data, next_prompt in steps:
                tg.push_callback(REPORTER, data)
                summary = await _wait(tg, REPORTER, next_prompt)
            confirm = [d for label, d in _buttons(summary) if label == "Gửi tin báo"][0]
            tg.push_callback(REPORTER, confirm)
            ack = await _wait(tg, REPORTER, "Mã tin của bạn")
            code = re.search(r"BV-[2-9A-HJ-NP-Z]{6}", ack["text"]).group(0)

            alert = await _wait(tg, GROUP, code)
            assert ("Nhận xử lý", f"case:claim:{code}") in _buttons(alert)
            assert "vết bầm" not in alert["text"]
            await _wait(tg, OFFICER, code)  # the private copy

            tg.push_callback(GROUP, f"case:claim:{code}", user_id=OFFICER, message=alert["message_id"])
            card = await _wait(tg, OFFICER, "vết bầm")
            await _wait(tg, GROUP, "đã có người nhận xử lý")

            tg.push_message(REPORTER, f"/theodoi {code}")
            await _wait(tg, REPORTER, "đang xử lý")

            tg.push_callback(OFFICER, f"case:closeok:{code}", message=card["message_id"])
            await _wait(tg, OFFICER, "đã đóng")
            tg.push_message(REPORTER, f"/theodoi {code}")
            await _wait(tg, REPORTER, "đã đóng")
            # Nothing with the narrative ever reached the group.
            assert all("vết bầm" not in m.get("text", "") for m in tg.sent_messages(GROUP))
        finally:
            await runner.stop()
            await channel.stop()
            await app.close()
