"""End to end through a real python-telegram-bot Application and a fake Bot API
on 127.0.0.1: polling, webhook with the secret header, and `bvte run`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import build_app
from bot.channels.telegram.adapter import TelegramChannel, WebhookConfig
from bot.config import Settings
from bot.runner import Runner
from storage.models import OutboxMessage, ProcessedUpdate
from tests.fakes.telegram_api import FakeTelegramAPI

MENU = ["Hỏi đáp", "Báo tin", "Số khẩn cấp"]


def _labels(entry: dict) -> list[str]:
    markup = entry.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _serve(tmp_path: Path, channel: TelegramChannel, **extra):
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'tg.db'}",
        secret_key=SecretStr("telegram-test-key-0123456789"), _env_file=None, **extra,
    )
    app = await build_app(settings)
    app.add_sender(channel.name, channel)
    runner = Runner(app, tick_seconds=0.5)
    runner.start()
    await channel.start(app)
    runner.web = None
    if "webhook_port" in extra:  # webhooks are served by bot.web, as `bvte run --webhook` does
        from bot.web import WebServer, create_web_app

        runner.web = WebServer(create_web_app(app, [channel]), "127.0.0.1", extra["webhook_port"])
        await runner.web.start()
    return app, runner


async def _shutdown(app, runner, channel) -> None:
    if runner.web is not None:
        await runner.web.stop()
    await channel.stop()
    await runner.stop()
    await app.close()


async def test_polling_start_menu_and_button(tmp_path: Path):
    with FakeTelegramAPI() as tg:
        channel = TelegramChannel(tg.token, base_url=tg.base_url)
        app, runner = await _serve(tmp_path, channel)
        try:
            tg.push_message(42, "/start")
            sent = await tg.wait_for_async(lambda e: e["method"] == "sendMessage", timeout=15)
            assert _labels(sent[0]) == MENU
            tg.push_callback(42, "menu:sos")
            await tg.wait_for_async("answerCallbackQuery", timeout=15)
            sent = await tg.wait_for_async(lambda e: e["method"] == "sendMessage", count=2, timeout=15)
            assert "113" in sent[1]["text"] and "111" in sent[1]["text"]
        finally:
            await _shutdown(app, runner, channel)


async def test_webhook_secret_checked(tmp_path: Path):
    port = _free_port()
    hook = WebhookConfig(
        listen="127.0.0.1", port=port, url_path="telegram",
        webhook_url=f"http://127.0.0.1:{port}/telegram", secret_token="s3cret-Token_1",
    )
    with FakeTelegramAPI(deliver_webhooks=False) as tg:
        channel = TelegramChannel(tg.token, base_url=tg.base_url, webhook=hook)
        app, runner = await _serve(
            tmp_path, channel, webhook_port=port, webhook_secret=SecretStr("s3cret-Token_1"),
        )
        try:
            assert tg.webhook and tg.webhook.get("secret_token") == "s3cret-Token_1"
            url = f"http://127.0.0.1:{port}/telegram"
            forged = tg.make_message_update(7, "/start")
            status = await tg.post_webhook_async(url, forged, "wrong-secret")
            assert status in (401, 403)
            status = await tg.post_webhook_async(url, tg.make_message_update(7, "/sos"), None)
            assert status in (401, 403)
            await asyncio.sleep(0.5)
            async with app.uow() as uow:
                assert await uow.session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0
                assert await uow.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
            status = await tg.post_webhook_async(url, tg.make_message_update(7, "/start"), "s3cret-Token_1")
            assert status == 200
            sent = await tg.wait_for_async(lambda e: e["method"] == "sendMessage", timeout=15)
            assert sent[0]["chat_id"] == 7 and _labels(sent[0]) == MENU
        finally:
            await _shutdown(app, runner, channel)


def test_bvte_run_answers_start_and_stops_on_sigterm(tmp_path: Path):
    token = "987654:SECRET-token-value-xyz"
    with FakeTelegramAPI(token=token) as tg:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BVTE_")}
        env.update({
            "BVTE_TELEGRAM_TOKEN": token, "BVTE_TELEGRAM_BASE_URL": tg.base_url,
            "BVTE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
            "BVTE_LOG_LEVEL": "DEBUG", "BVTE_TICK_SECONDS": "0.5",
        })
        # Output goes to files: an undrained pipe would block the bot's logging.
        out_path, err_path = tmp_path / "out.log", tmp_path / "err.log"
        with out_path.open("w") as out_f, err_path.open("w") as err_f:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                stdout=out_f, stderr=err_f, text=True,
            )
        try:
            tg.wait_for("deleteWebhook", timeout=60)  # polling is about to start
            tg.push_message(4242, "/start")
            sent = tg.wait_for(lambda e: e["method"] == "sendMessage", timeout=30)
            assert _labels(sent[0]) == MENU
        finally:
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail("bvte run did not stop within 10 s of SIGTERM")
        assert time.monotonic() - started < 10
        out, err = out_path.read_text(), err_path.read_text()
        assert " DEBUG " in err  # DEBUG logging was on: the check below means something
        assert proc.returncode == 0, err[-2000:]
        assert token not in out and token not in err
        assert "SECRET-token" not in out + err


def test_webhook_route_unreachable_without_secret_is_not_a_crash(tmp_path: Path):
    # A bare GET on a port with nothing listening must simply fail to connect:
    # guards the test above from passing against a stray server.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{_free_port()}/telegram", timeout=2)
