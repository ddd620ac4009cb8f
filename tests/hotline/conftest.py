"""Fixtures for the hotline tests: a database per test (SQLite, and PostgreSQL when
BVTE_TEST_DATABASE_URL is set — a fresh database each time), and an in-process
simulator with the example communes loaded, plus helpers for common flows."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app import build_app
from bot.channels.base import RecordingSender
from bot.config import Settings
from bot.sim import EXAMPLE_COMMUNES, Simulator
from handlers.clock import SimClock
from handlers.hotline.communes import load_communes_file

SECRET = "hotline-test-secret-key-0123456789"
CODE_RE = re.compile(r"BV-[2-9A-HJ-NP-Z]{6}")

_BACKENDS = ["sqlite"]
if os.environ.get("BVTE_TEST_DATABASE_URL"):
    _BACKENDS.append("postgres")


async def _fresh_pg_database(base_url: str) -> tuple[str, str]:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"bvte_hl_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(
        host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
        password=url.password, database=url.database or "postgres",
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url.set(database=name, drivername="postgresql+asyncpg").render_as_string(
        hide_password=False), name


async def _drop_pg_database(base_url: str, name: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    admin = await asyncpg.connect(
        host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
        password=url.password, database=url.database or "postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=_BACKENDS)
async def db_url(request, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
        return
    base = os.environ["BVTE_TEST_DATABASE_URL"]
    url, name = await _fresh_pg_database(base)
    try:
        yield url
    finally:
        await _drop_pg_database(base, name)


def make_settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, secret_key=SecretStr(SECRET))


class HotlineSim:
    """The simulator's JSON-lines contract, in process, with flow helpers."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.app = sim.app
        self.clock = sim.clock

    async def send(self, **obj: Any) -> list[dict[str, Any]]:
        out = await self.sim.line(json.dumps(obj, ensure_ascii=False))
        errors = [o for o in out if "error" in o]
        assert not errors, errors
        return out

    async def text(self, user: str, text: str, chat: str | None = None) -> list[dict[str, Any]]:
        obj: dict[str, Any] = {"from": user, "text": text}
        if chat:
            obj["chat"] = chat
        return await self.send(**obj)

    async def press(self, user: str, label: str, chat: str | None = None) -> list[dict[str, Any]]:
        obj: dict[str, Any] = {"from": user, "press": label}
        if chat:
            obj["chat"] = chat
        return await self.send(**obj)

    async def button(self, user: str, data: str, chat: str | None = None) -> list[dict[str, Any]]:
        """Press a button of any earlier message (as on Telegram), by its action key."""
        from handlers.messages import Inbound

        chat = chat or user
        await self.app.core.handle(Inbound(
            channel="sim", chat_id=chat, user_id=user, kind="button", button=data,
            chat_type="private" if chat == user else "group", update_id=uuid.uuid4().hex,
        ))
        await self.app.dispatcher.drain()
        return self.sim._drain_output()

    async def advance(self, duration: str) -> list[dict[str, Any]]:
        return await self.send(advance=duration)

    async def cli(self, *args: str) -> str:
        out = await self.send(cli=list(args))
        return out[0]["cli_output"]

    async def invite(self, commune: str = "quan-son", role: str = "officer") -> str:
        output = await self.cli("officer", "invite", "--commune", commune, "--role", role)
        code = output.splitlines()[0].strip()
        assert re.fullmatch(r"[2-9A-HJ-NP-Z]{8}", code), output
        return code

    async def register(self, user: str, commune: str = "quan-son", role: str = "officer") -> None:
        code = await self.invite(commune, role)
        out = await self.text(user, f"/dangky {code}")
        assert "Đã đăng ký" in out[0]["text"], out

    async def make_group(self, supervisor: str, group: str, commune: str = "quan-son") -> None:
        code = await self.invite(commune, "officer")
        out = await self.text(supervisor, f"/nhom {code}", chat=group)
        assert "Nhóm này sẽ nhận tin báo" in out[0]["text"], out

    async def report(
        self,
        user: str,
        narrative: str = "Con nhà hàng xóm bị bố đánh nhiều ngày nay, người đầy vết bầm.",
        *,
        commune: str | None = "Quan Sơn",
        phone: str | None = None,
        urgent: bool = False,
    ) -> tuple[str, list[dict[str, Any]]]:
        """A full intake; returns (case code, all output lines seen)."""
        seen: list[dict[str, Any]] = []
        seen += await self.text(user, "/baotin")
        seen += await self.text(user, narrative)
        seen += await self.press(user, "Bạo lực")
        seen += await self.press(user, "Có, trẻ đang nguy hiểm" if urgent else "Không")
        if not urgent:
            seen += await self.press(user, "6–10 tuổi")
        if commune and seen[-1]["text"].startswith("Chuyện xảy ra ở xã"):
            seen += await self.text(user, commune)
        seen += await self.press(user, "Thôn 2")
        if not urgent:
            seen += await self.press(user, "Hôm nay")
            seen += await self.press(user, "Hàng xóm")
            if phone:
                seen += await self.press(user, "Để lại số điện thoại")
                seen += await self.text(user, phone)
            else:
                seen += await self.press(user, "Giấu tên")
        assert seen[-1]["text"].startswith("Bạn kiểm tra lại tin báo"), seen[-1]
        out = await self.press(user, "Gửi tin báo")
        seen += out
        done = [o for o in out if o["to"] == user and "Mã tin" in o["text"]]
        assert done, out
        code = CODE_RE.search(done[0]["text"]).group(0)
        return code, seen


async def build_sim(db_url: str, *, communes: bool = True) -> HotlineSim:
    clock = SimClock()
    recorder = RecordingSender()
    app = await build_app(make_settings(db_url), clock=clock, senders={"sim": recorder},
                          with_knowledge=True)
    if communes:
        async with app.uow() as uow:
            await load_communes_file(uow.session, EXAMPLE_COMMUNES, now=clock.now())
    return HotlineSim(Simulator(app, clock, recorder, db_url))


@pytest.fixture
async def hsim(db_url: str) -> AsyncIterator[HotlineSim]:
    sim = await build_sim(db_url)
    try:
        yield sim
    finally:
        await sim.app.close()


def texts_to(out: list[dict[str, Any]], who: str) -> list[str]:
    return [o["text"] for o in out if o.get("chat") == who]
