"""Webhook mode: bot.web's POST /zalo (and /telegram) in-process and in `bvte run --webhook`."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.channels.zalo.adapter import ZaloChannel, ZaloWebhookConfig
from bot.web import create_web_app
from storage.models import Conversation, OutboxMessage, ProcessedUpdate, User
from tests.channels.zalo.test_adapter import SECRET_KEY, BvteProcess
from tests.fakes.zalo_api import FakeZaloAPI, make_event

SECRET = "webhook-secret-0123456789"


async def _app(tmp_path: Path, secret: str | None = SECRET):
    from bot.app import build_app
    from bot.config import Settings

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hook.db'}",
        secret_key=SecretStr(SECRET_KEY), _env_file=None,
        webhook_secret=SecretStr(secret) if secret else None,
    )
    return await build_app(settings)


@pytest.fixture
def api():
    with FakeZaloAPI(max_hold=0.2) as fake:
        yield fake


@pytest.fixture
async def hook(tmp_path: Path, api: FakeZaloAPI):
    """(app, channel, client): a webhook-mode ZaloChannel behind bot.web, in-process."""
    app = await _app(tmp_path)
    channel = ZaloChannel(
        api.token, base_url=api.base_url,
        webhook=ZaloWebhookConfig(url="https://bvte.example.vn/zalo", secret_token=SECRET),
    )
    app.add_sender("zalo", channel)
    await channel.start(app)
    web = create_web_app(app, [channel])
    transport = httpx.ASGITransport(app=web)
    async with httpx.AsyncClient(transport=transport, base_url="http://bvte") as client:
        yield app, channel, client
    await channel.stop()
    await app.close()


async def _counts(app) -> dict[str, int]:
    async with app.uow() as uow:
        counts = {}
        for model in (ProcessedUpdate, OutboxMessage, Conversation, User):
            counts[model.__tablename__] = await uow.session.scalar(
                select(func.count()).select_from(model)
            )
        return counts


def _headers(secret: str | None) -> dict[str, str]:
    return {} if secret is None else {"X-Bot-Api-Secret-Token": secret}


async def test_start_registers_the_webhook(api, hook) -> None:
    app, channel, _ = hook
    for _ in range(100):
        if api.webhook:
            break
        await asyncio.sleep(0.05)
    assert api.webhook is not None
    assert api.webhook["url"] == "https://bvte.example.vn/zalo"
    assert api.webhook["secret_token"] == SECRET
    assert not api.calls_of("getUpdates")  # no poller in webhook mode


@pytest.mark.parametrize(
    "secret", [None, "", "wrong-secret-0123456789", SECRET[:-1], SECRET + "x", SECRET.upper()]
)
async def test_forged_requests_are_refused_and_change_nothing(hook, secret) -> None:
    app, _, client = hook
    before = await _counts(app)
    body = {"ok": True, "result": make_event(text="xin chào", message_id="forged-1")}
    response = await client.post("/zalo", json=body, headers=_headers(secret))
    assert response.status_code in (401, 403)
    assert response.json() == {"ok": False, "error": "forbidden"}
    assert await _counts(app) == before
    # The same event with the right secret is then processed normally (it was not recorded).
    ok = await client.post("/zalo", json=body, headers=_headers(SECRET))
    assert ok.status_code == 200
    after = await _counts(app)
    assert after["processed_updates"] == before["processed_updates"] + 1
    assert after["outbox"] > before["outbox"]


async def test_without_a_configured_secret_everything_is_refused(tmp_path, api) -> None:
    app = await _app(tmp_path, secret=None)
    channel = ZaloChannel(api.token, base_url=api.base_url, webhook=ZaloWebhookConfig(None, "x" * 8))
    await channel.start(app)
    web = create_web_app(app, [channel])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://b") as c:
        for secret in (None, "", "x" * 8):
            response = await c.post("/zalo", json=make_event(text="hi"), headers=_headers(secret))
            assert response.status_code == 403
    assert (await _counts(app))["processed_updates"] == 0
    await channel.stop()
    await app.close()


@pytest.mark.parametrize("wrapped", [True, False])
async def test_wrapped_and_bare_bodies_are_accepted(api, hook, wrapped) -> None:
    app, channel, client = hook
    event = make_event(text="/sos", message_id=f"body-{wrapped}")
    body = {"ok": True, "result": event} if wrapped else event
    response = await client.post("/zalo", json=body, headers=_headers(SECRET))
    assert response.status_code == 200 and response.json() == {"ok": True}
    # Acknowledged only once durable: the update id and the reply are already in the DB.
    async with app.uow() as uow:
        keys = (await uow.session.scalars(select(ProcessedUpdate.update_key))).all()
        texts = (await uow.session.scalars(select(OutboxMessage.text))).all()
    assert f"body-{wrapped}" in keys
    assert any("113" in t for t in texts)
    # ...and the outbox delivers it through the channel.
    await app.dispatcher.drain()
    [sent] = api.sent_of("sendMessage")
    assert "113" in sent["text"] and sent["text"].endswith("Trả lời 1.")


async def test_a_redelivered_event_is_processed_once(api, hook) -> None:
    app, _, client = hook
    body = {"ok": True, "result": make_event(text="/sos", message_id="dup-1")}
    for _ in range(3):
        assert (await client.post("/zalo", json=body, headers=_headers(SECRET))).status_code == 200
    counts = await _counts(app)
    assert counts["processed_updates"] == 1 and counts["outbox"] == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b'"text"',
        b'{"ok": false, "error_code": 500}',
        b'{"ok": true, "result": "nope"}',
        b'{"event_name": "message.text.received"}',
    ],
)
async def test_malformed_bodies_get_400_without_a_traceback(hook, raw) -> None:
    app, _, client = hook
    before = await _counts(app)
    response = await client.post(
        "/zalo", content=raw, headers={**_headers(SECRET), "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "Traceback" not in response.text and "Error" not in response.text
    assert await _counts(app) == before


async def test_oversized_bodies_are_refused(hook) -> None:
    _, _, client = hook
    body = b'{"x": "' + b"a" * 1_100_000 + b'"}'
    response = await client.post("/zalo", content=body, headers=_headers(SECRET))
    assert response.status_code == 413


async def test_only_post_and_known_paths(hook) -> None:
    _, _, client = hook
    assert (await client.get("/zalo")).status_code == 405
    assert (await client.post("/nothing", json={}, headers=_headers(SECRET))).status_code == 404


async def test_a_stopped_channel_answers_503(api, tmp_path) -> None:
    app = await _app(tmp_path)
    channel = ZaloChannel(api.token, base_url=api.base_url, webhook=ZaloWebhookConfig(None, SECRET))
    web = create_web_app(app, [channel])  # the channel is not started yet
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://b") as c:
        response = await c.post("/zalo", json=make_event(text="hi"), headers=_headers(SECRET))
    assert response.status_code == 503
    assert (await _counts(app))["processed_updates"] == 0
    await app.close()


def test_webhook_mode_needs_a_secret() -> None:
    from bot.config import ConfigError, Settings

    settings = Settings(
        _env_file=None, zalo_token=SecretStr("1:abcdefgh-token"), webhook_url="https://x.vn",
    )
    with pytest.raises(ConfigError):
        ZaloChannel.from_settings(settings, webhook=True)
    ok = ZaloChannel.from_settings(
        settings.model_copy(update={"webhook_secret": SecretStr(SECRET)}), webhook=True
    )
    assert ok._webhook == ZaloWebhookConfig(url="https://x.vn/zalo", secret_token=SECRET)
    assert ZaloChannel.from_settings(settings, webhook=False)._webhook is None


# ------------------------------------------------------- bvte run --webhook


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_bvte_run_webhook_serves_zalo_and_telegram_on_one_port(tmp_path: Path) -> None:
    from tests.fakes.telegram_api import FakeTelegramAPI

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with FakeZaloAPI() as zalo, FakeTelegramAPI(token="654321:TG-hook-token") as tg:
        bvte = BvteProcess(
            tmp_path,
            {
                "BVTE_ZALO_TOKEN": zalo.token, "BVTE_ZALO_BASE_URL": zalo.base_url,
                "BVTE_TELEGRAM_TOKEN": tg.token, "BVTE_TELEGRAM_BASE_URL": tg.base_url,
                "BVTE_WEBHOOK_URL": base, "BVTE_WEBHOOK_LISTEN": "127.0.0.1",
                "BVTE_WEBHOOK_PORT": str(port), "BVTE_WEBHOOK_SECRET": SECRET,
            },
            "--webhook",
        )
        try:
            deadline = time.monotonic() + 40
            while not (zalo.webhook and tg.webhook):
                assert bvte.proc.poll() is None, bvte.terminate() or bvte.stderr[-2000:]
                assert time.monotonic() < deadline, "webhooks were not registered"
                time.sleep(0.1)
            assert zalo.webhook["url"] == f"{base}/zalo"
            assert zalo.webhook["secret_token"] == SECRET
            assert tg.webhook["url"] == f"{base}/telegram"
            assert not zalo.calls_of("getUpdates")

            event = make_event(text="/sos", message_id="wh-1")
            assert zalo.post_webhook(f"{base}/zalo", event, secret="forged-secret-123") == 403
            assert zalo.post_webhook(f"{base}/zalo", event, secret=None, wrapped=False) == 403
            assert zalo.post_webhook(f"{base}/zalo", event, secret=SECRET) == 200
            assert zalo.post_webhook(f"{base}/zalo", event, secret=SECRET, wrapped=False) == 200
            [sent] = zalo.wait_for_sent(1, timeout=20)
            assert "113" in sent["text"]

            forged = tg.make_message_update(777, "/sos")
            assert tg.post_webhook(f"{base}/telegram", forged, secret="nope") == 403
            # The fake Telegram delivers pushed updates to the registered webhook itself.
            tg.push_message(777, "/sos")
            [reply] = tg.wait_for(
                lambda e: e["method"] == "sendMessage" and e["status"] == 200, timeout=20
            )
            assert "113" in reply["text"] and reply["chat_id"] == 777
            time.sleep(1.0)
            assert len(zalo.sent_of("sendMessage")) == 1  # the forged and repeated ones: none
            assert len(tg.sent_messages()) == 1
        finally:
            took = bvte.terminate()
        assert took < 10 and bvte.proc.returncode == 0, bvte.stderr[-2000:]
        output = bvte.stdout + bvte.stderr
        for secret in (zalo.token, tg.token, SECRET):
            assert secret not in output
        assert "Traceback" not in output
