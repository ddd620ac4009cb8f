"""Drive the hotline report flow against a `bvte run` subprocess through the fake
Telegram API: prepare a database (communes, one officer), then walk a reporter
through the intake by typing the buttons' labels, reading the bot's replies from
the fake."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

from pydantic import SecretStr

from bot.app import build_app
from bot.config import Settings
from bot.sim import EXAMPLE_COMMUNES
from handlers.hotline.communes import load_communes_file, resolve_commune
from storage.models.hotline import Officer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.province.procs import SECRET_KEY

__all__ = ["CODE_RE", "OFFICER_CHAT", "prepare_db", "report_flow"]

CODE_RE = re.compile(r"BV-[2-9A-HJ-NP-Z]{6}")
OFFICER_CHAT = 9001


async def prepare_db(url: str) -> None:
    """Migrate, load the example communes and register one officer of Quan Sơn."""
    cfg = Settings(database_url=url, secret_key=SecretStr(SECRET_KEY), _env_file=None)
    app = await build_app(cfg, with_knowledge=False)
    try:
        now = app.services.clock.now()
        async with app.uow() as uow:
            await load_communes_file(uow.session, EXAMPLE_COMMUNES, now=now)
        async with app.uow() as uow:
            commune = await resolve_commune(uow.session, "quan-son")
            assert commune is not None
            uow.session.add(Officer(
                channel="telegram", user_key=str(OFFICER_CHAT), chat_id=str(OFFICER_CHAT),
                display_name="Cán bộ", commune_id=commune.id, role="officer", active=True,
                created_at=now,
            ))
    finally:
        await app.close()


def _replies(tg: FakeTelegramAPI, chat: int) -> list[str]:
    return [s["text"] for s in tg.sent
            if s["method"] == "sendMessage" and s["status"] == 200 and s["chat_id"] == chat]


async def report_flow(
    tg: FakeTelegramAPI,
    chat: int,
    send: Callable[[dict], Awaitable[None]],
    *,
    narrative: str,
    phone: str | None = None,
    timeout: float = 60.0,  # noqa: ASYNC109
) -> str:
    """One reporter's whole intake; returns the case code. `send` delivers one
    update to the bot (and retries it until acknowledged)."""

    async def say(text: str, expect: int) -> str:
        await send(tg.make_message_update(chat, text))
        deadline = time.monotonic() + timeout
        while True:
            got = _replies(tg, chat)
            if len(got) >= expect:
                return got[-1]
            if time.monotonic() > deadline:
                raise TimeoutError(f"chat {chat}: no reply to {text[:20]!r}; seen {got[-2:]}")
            await asyncio.sleep(0.05)

    def seen() -> int:
        return len(_replies(tg, chat))

    last = await say("/baotin", seen() + 1)
    steps = [narrative, "Bạo lực", "Không", "6–10 tuổi"]
    for step in steps:
        last = await say(step, seen() + 1)
    if last.startswith("Chuyện xảy ra ở xã"):
        last = await say("Quan Sơn", seen() + 1)
    for step in ("Thôn 2", "Hôm nay", "Hàng xóm"):
        last = await say(step, seen() + 1)
    if phone:
        await say("Để lại số điện thoại", seen() + 1)
        last = await say(phone, seen() + 1)
    else:
        last = await say("Giấu tên", seen() + 1)
    assert last.startswith("Bạn kiểm tra lại tin báo"), last
    last = await say("Gửi tin báo", seen() + 1)
    deadline = time.monotonic() + timeout
    while not (match := CODE_RE.search(last)):
        assert time.monotonic() < deadline, last
        await asyncio.sleep(0.05)
        last = _replies(tg, chat)[-1]
    return match.group(0)
