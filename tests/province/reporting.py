"""Drive the hotline report flow against a `bvte run` subprocess through the fake
Telegram API: prepare a database (communes, one officer), then walk a reporter
through the intake by typing the buttons' labels, reading the bot's replies from
the fake."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable

from pydantic import SecretStr

from bot.app import build_app
from bot.config import Settings
from bot.sim import EXAMPLE_COMMUNES
from handlers.hotline.communes import load_communes, load_communes_file, resolve_commune
from storage.models.hotline import Officer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.province.procs import SECRET_KEY

__all__ = ["CODE_RE", "OFFICER_CHAT", "ReplyIndex", "prepare_db", "report_flow"]

CODE_RE = re.compile(r"BV-[2-9A-HJ-NP-Z]{6}")
OFFICER_CHAT = 9001


async def prepare_db(url: str, extra_communes: int = 0) -> list[tuple[str, int]]:
    """Migrate, load the example communes and register one officer of Quan Sơn, plus
    `extra_communes` more communes with one officer each (Telegram lets a bot send
    one message per second to a private chat, so a burst of reports must spread over
    several officers to finish in reasonable time). Returns (commune, officer chat)."""
    cfg = Settings(database_url=url, secret_key=SecretStr(SECRET_KEY), _env_file=None)
    app = await build_app(cfg, with_knowledge=False)
    targets = [("Quan Sơn", OFFICER_CHAT)]
    try:
        now = app.services.clock.now()
        async with app.uow() as uow:
            await load_communes_file(uow.session, EXAMPLE_COMMUNES, now=now)
            if extra_communes:
                await load_communes(uow.session, {"communes": [
                    {"slug": f"burst-{i:02d}", "name": f"Xã Thử Tải {i:02d}", "province": "Lạng Sơn",
                     "villages": ["Thôn 1", "Thôn 2"]}
                    for i in range(extra_communes)
                ]}, now=now)
        targets += [(f"burst-{i:02d}", OFFICER_CHAT + 1 + i) for i in range(extra_communes)]
        async with app.uow() as uow:
            for slug, chat in targets:
                commune = await resolve_commune(uow.session, "quan-son" if chat == OFFICER_CHAT else slug)
                assert commune is not None
                uow.session.add(Officer(
                    channel="telegram", user_key=str(chat), chat_id=str(chat),
                    display_name="Cán bộ", commune_id=commune.id, role="officer", active=True,
                    created_at=now,
                ))
    finally:
        await app.close()
    return targets


class ReplyIndex:
    """The fake's successful sendMessage texts per chat, tailed incrementally (one
    scan for every waiting reporter, not one each)."""

    def __init__(self, tg: FakeTelegramAPI) -> None:
        self.tg = tg
        self.by_chat: dict[object, list[str]] = {}
        self._offset = 0
        self._task: asyncio.Task[None] | None = None

    def refresh(self) -> None:
        entries = self.tg.sent
        for entry in entries[self._offset:]:
            if entry["method"] == "sendMessage" and entry["status"] == 200:
                self.by_chat.setdefault(entry["chat_id"], []).append(entry["text"])
        self._offset = len(entries)

    def __call__(self, chat: object) -> list[str]:
        if self._task is None:
            self.refresh()
        return self.by_chat.get(chat, [])

    async def _tail(self) -> None:
        while True:
            self.refresh()
            await asyncio.sleep(0.02)

    def start(self) -> ReplyIndex:
        self._task = asyncio.create_task(self._tail())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.refresh()


async def report_flow(
    replies: Callable[[object], list[str]],
    tg: FakeTelegramAPI,
    chat: int,
    send: Callable[[dict], Awaitable[None]],
    *,
    narrative: str,
    phone: str | None = None,
    commune: str = "Quan Sơn",
    timeout: float = 60.0,  # noqa: ASYNC109
) -> str:
    """One reporter's whole intake; returns the case code. `send` delivers one
    update to the bot (and retries it until acknowledged)."""

    def actionable(reply: str) -> bool:
        return bool(CODE_RE.search(reply)) or any(reply.startswith(q) for q, _ in answers)

    async def say(text: str, *, any_reply: bool = False) -> str:
        """Send `text`; wait for the next question (a step may first say something else)."""
        before = len(replies(chat))
        await send(tg.make_message_update(chat, text))
        deadline = time.monotonic() + timeout
        while True:
            got = replies(chat)
            fresh = got[before:]
            if fresh and any_reply:
                return fresh[-1]
            # With several workers a step's two messages can arrive in either order
            # (see the report): take the question wherever it is.
            asked = [r for r in fresh if actionable(r)]
            if asked:
                return asked[-1]
            if time.monotonic() > deadline:
                raise TimeoutError(f"chat {chat}: no reply to {text[:20]!r}; seen {got[-2:]}")
            await asyncio.sleep(0.05)

    answers = (
        ("Chuyện gì đã xảy ra", narrative),
        ("Chuyện này gần nhất", "Bạo lực"),
        ("Trẻ có đang gặp nguy hiểm", "Không"),
        ("Trẻ khoảng bao nhiêu tuổi", "6–10 tuổi"),
        ("Chuyện xảy ra ở xã", commune),
        ("Ở thôn", "Thôn 2"),
        ("Chuyện xảy ra khi nào", "Hôm nay"),
        ("Bạn là ai đối với trẻ", "Hàng xóm"),
        ("Bạn muốn giấu tên", "Để lại số điện thoại" if phone else "Giấu tên"),
        ("Bạn kiểm tra lại tin báo", "Gửi tin báo"),
    )
    last = await say("/baotin")
    asked_phone = False
    for _ in range(20):
        if match := CODE_RE.search(last):
            return match.group(0)
        if asked_phone:
            asked_phone = False
            last = await say(phone or "")
            continue
        answer = next((a for q, a in answers if last.startswith(q)), None)
        assert answer is not None, f"chat {chat}: unexpected question {last[:80]!r}"
        asked_phone = answer == "Để lại số điện thoại"
        last = await say(answer, any_reply=asked_phone)
    raise AssertionError(f"chat {chat}: the intake did not finish; last {last[:80]!r}")
