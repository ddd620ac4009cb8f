"""The Zalo channel: event translation, sending, polling in-process and `bvte run`.

The `bvte run` tests start the real CLI as a subprocess against FakeZaloAPI
(and FakeTelegramAPI) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.channels.zalo import Bot, Update, parse_update
from bot.channels.zalo.adapter import NAME, ZaloChannel, to_inbound
from handlers.messages import Button, DeliveryError, Outbound
from tests.fakes.zalo_api import DEFAULT_CHAT_ID, FakeZaloAPI, make_event

ROOT = Path(__file__).resolve().parents[3]
SECRET_KEY = "some-test-key-1234567890"
HAS_UNDERSTANDING = importlib.util.find_spec("knowledge.understand") is not None
NEEDS_KB = pytest.mark.skipif(
    not HAS_UNDERSTANDING,
    reason="knowledge.understand (the intent classifier) is not in the tree yet: without it "
    "the core cannot recognise an emergency text",
)


# --------------------------------------------------------------- translation


def _update(event_name: str | None, **message: Any) -> Update:
    return Update.model_validate({"event_name": event_name, "message": message})


def _full(event_name: str, **extra: Any) -> Update:
    return parse_update(make_event(event_name, message_id="a1b2c3d4e5f60718293a", **extra))


@pytest.mark.parametrize(
    ("event_name", "extra", "kind", "text"),
    [
        ("message.text.received", {"text": "xin chào"}, "text", "xin chào"),
        ("message.text.received", {"text": "   "}, "empty", "   "),
        ("message.image.received", {"photo": "https://x/y.jpg", "caption": "hoá đơn"}, "photo", "hoá đơn"),
        ("message.image.received", {"photo": "https://x/y.jpg"}, "photo", None),
        ("message.sticker.received", {"sticker": "st1", "url": "https://x/s.png"}, "sticker", None),
        ("message.voice.received", {"voice_url": "https://x/v.aac"}, "voice", None),
        ("message.unsupported.received", {}, "unsupported", None),
        ("message.audio.received", {}, "voice", None),
        ("message.file.received", {}, "file", None),
        ("message.brand_new.received", {"text": "hi"}, "text", "hi"),  # unknown: by fields
        ("message.brand_new.received", {}, "unsupported", None),
    ],
)
def test_event_kinds(event_name: str, extra: dict, kind: str, text: str | None) -> None:
    msg = to_inbound(_full(event_name, **extra))
    assert msg is not None
    assert (msg.kind, msg.text) == (kind, text)
    assert msg.channel == NAME == "zalo"
    assert msg.numbered_menus is True
    assert msg.chat_type == "private"
    assert msg.update_id == msg.message_id == "a1b2c3d4e5f60718293a"
    assert msg.chat_id == DEFAULT_CHAT_ID and msg.user_id == DEFAULT_CHAT_ID


def test_ids_are_opaque_strings_and_dates_are_milliseconds() -> None:
    update = parse_update(
        {
            "event_name": "message.text.received",
            "message": {
                "message_id": 12345678901234567890,  # a number on the wire stays exact
                "date": 1750316131602,
                "chat": {"id": "007", "chat_type": "PRIVATE"},
                "from": {"id": "0099", "display_name": "Lan", "is_bot": False},
                "text": "/start",
            },
        }
    )
    msg = to_inbound(update)
    assert msg is not None
    assert msg.chat_id == "007" and msg.user_id == "0099"  # leading zeros kept
    assert msg.update_id == "12345678901234567890"
    assert msg.at == datetime(2025, 6, 19, 6, 55, 31, 602000, tzinfo=UTC)
    assert msg.display_name == "Lan"
    assert msg.command == ("/start", "")


def test_group_chats_and_mentions() -> None:
    update = _full(
        "message.text.received", text="@Trợ lý BVTE /sos", chat_type="GROUP",
        chat_id="g1", user_id="u1",
    )
    msg = to_inbound(update, bot_names=("Trợ lý BVTE", "bot.bvte"))
    assert msg is not None
    assert msg.chat_type == "group" and msg.is_group
    assert (msg.chat_id, msg.user_id) == ("g1", "u1")
    assert msg.text == "/sos" and msg.command == ("/sos", "")
    # Without the bot's names the text is left alone.
    assert to_inbound(update).text == "@Trợ lý BVTE /sos"


def test_extra_fields_are_tolerated() -> None:
    raw = make_event("message.text.received", text="chào", message_id="m1")
    raw["message"]["reactions"] = [{"x": 1}]
    raw["message"]["chat"]["title"] = "Nhóm"
    raw["message"]["from"]["avatar"] = "https://x"
    raw["brand_new_top_level"] = {"nested": True}
    msg = to_inbound(parse_update({"ok": True, "result": raw}))
    assert msg is not None and msg.text == "chào" and msg.update_id == "m1"


@pytest.mark.parametrize(
    "message",
    [
        {},
        {"text": "x"},  # no chat, no sender
        {"chat": {"id": "c1"}, "text": "x"},  # no sender: the chat is the user
        {"from": {"id": "u1"}, "text": "x"},  # no chat: a private chat with the sender
        {"chat": {"id": "c1"}, "from": {"id": "u1"}},  # no text, no event name
        {"chat": {}, "from": {}},
        {"chat": {"id": "c1"}, "from": {"id": "u1"}, "date": "garbage-date"},
    ],
)
def test_missing_fields_never_raise(message: dict) -> None:
    try:
        update = Update.model_validate({"message": message})
    except ValueError:
        return  # rejected by the model: the poller/webhook skip it (tested there)
    msg = to_inbound(update)
    if msg is not None:
        assert msg.chat_id and msg.user_id and msg.update_id


def test_events_that_are_not_user_messages_are_skipped() -> None:
    assert to_inbound(Update.model_validate({"event_name": "message.text.received"})) is None
    assert to_inbound(_update("user.follow", chat={"id": "c"}, **{"from": {"id": "u"}})) is None
    bot_msg = _update(
        "message.text.received", chat={"id": "c"}, text="hi", **{"from": {"id": "b", "is_bot": True}}
    )
    assert to_inbound(bot_msg) is None


def test_without_message_id_the_key_is_a_stable_hash() -> None:
    one = _update("message.text.received", chat={"id": "c"}, text="hi", date=1)
    two = _update("message.text.received", chat={"id": "c"}, text="hi", date=1)
    other = _update("message.text.received", chat={"id": "c"}, text="hi", date=2)
    a, b, c = (to_inbound(u) for u in (one, two, other))
    assert a.update_id == b.update_id != c.update_id
    assert a.update_id.startswith("h:") and len(a.update_id) <= 128


# ------------------------------------------------------------------- sending


@pytest.fixture
def api():
    with FakeZaloAPI(max_hold=0.2) as fake:
        yield fake


@pytest.fixture
async def channel(api: FakeZaloAPI):
    ch = ZaloChannel(api.token, base_url=api.base_url, http_timeout=1.0)
    yield ch
    await ch.bot.shutdown()


def _out(text: str, buttons: tuple[Button, ...] = (), id: int = 1) -> Outbound:
    return Outbound(id=id, channel="zalo", chat_id="c1", text=text, buttons=buttons)


async def test_send_renders_buttons_as_a_numbered_menu(api, channel) -> None:
    buttons = (Button("Hỏi đáp", "menu:ask"), Button("Báo tin", "report:start"),
               Button("Số khẩn cấp", "menu:sos"))
    result = await channel.send(_out("Bạn cần gì?", buttons))
    [sent] = api.sent_of("sendMessage")
    assert sent["text"] == "Bạn cần gì?\n\n1. Hỏi đáp\n2. Báo tin\n3. Số khẩn cấp\nTrả lời 1, 2 hoặc 3."
    assert sent["chat_id"] == "c1"
    assert result.platform_message_id == sent["message_id"]


async def test_send_splits_long_texts_and_never_sends_empty(api, channel) -> None:
    paragraphs = [f"Đoạn {i}: " + "trẻ em cần được bảo vệ an toàn. " * 12 for i in range(20)]
    await channel.send(_out("\n\n".join(paragraphs), (Button("Menu chính", "menu:main"),)))
    await channel.send(_out("   ", id=2))
    texts = [s["text"] for s in api.sent_of("sendMessage")]
    assert len(texts) >= 4
    assert all(0 < len(t) <= 2000 and t.strip() for t in texts)
    assert texts[-2].endswith("1. Menu chính\nTrả lời 1.")
    assert texts[-1] == "…"
    assert all(t.startswith("Đoạn") for t in texts[:-2])  # cut at paragraph boundaries


@pytest.mark.parametrize(
    ("fault", "permanent", "retry_after"),
    [
        (("fail", 403), True, None),
        (("fail", 400), True, None),
        (("fail", 500), False, None),
        (("fail", 502), False, None),
        (("fail", 401), False, None),
        (("rate", None), False, None),
        (("rate", 3), False, 3.0),
    ],
)
async def test_send_maps_errors(api, channel, fault, permanent, retry_after) -> None:
    kind, value = fault
    if kind == "fail":
        api.fail_next("sendMessage", value)
    else:
        api.rate_limit("sendMessage", 1, retry_after=value)
    with pytest.raises(DeliveryError) as info:
        await channel.send(_out("chào"))
    assert info.value.permanent is permanent
    assert info.value.retry_after == retry_after
    assert info.value.blocked is False
    assert len(api.calls_of("sendMessage")) == 1  # no hidden client retries


async def test_send_timeout_is_transient(api, channel) -> None:
    api.delay_next("sendMessage", 1.5)
    with pytest.raises(DeliveryError) as info:
        await channel.send(_out("chào"))
    assert not info.value.permanent and "TimedOut" in info.value.reason


async def test_a_retry_after_a_partial_send_does_not_repeat_chunks(api, channel) -> None:
    text = "\n\n".join(f"Phần {i}. " + "x " * 900 for i in range(3))
    api.fail_next("sendMessage", 500)  # the first chunk fails once
    with pytest.raises(DeliveryError):
        await channel.send(_out(text, id=7))
    await channel.send(_out(text, id=7))
    first = [s["text"] for s in api.sent_of("sendMessage")]
    assert len(first) == 3
    # Now the second chunk fails: the retry starts at the second chunk.
    api.sent.clear()
    api.delay_next("sendMessage", 0)  # faults are consumed in order: chunk 1 OK,
    api.fail_next("sendMessage", 500)  # chunk 2 fails
    with pytest.raises(DeliveryError):
        await channel.send(_out(text, id=8))
    await channel.send(_out(text, id=8))
    texts = [s["text"] for s in api.sent_of("sendMessage")]
    assert texts == first
    assert len(set(texts)) == 3


# ------------------------------------------------------ in-process polling


async def _make_app(tmp_path: Path, name: str = "t.db"):
    from bot.app import build_app
    from bot.config import Settings

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / name}",
        secret_key=SecretStr(SECRET_KEY), _env_file=None,
    )
    return await build_app(settings)


@pytest.fixture
async def running(tmp_path: Path, api: FakeZaloAPI):
    """App + ZaloChannel polling the fake + the background runner (fast ticks)."""
    from bot.runner import Runner

    app = await _make_app(tmp_path)
    channel = ZaloChannel(api.token, base_url=api.base_url, http_timeout=1.0, poll_timeout=0.2)
    app.add_sender("zalo", channel)
    await channel.start(app)
    runner = Runner(app, tick_seconds=0.1)
    runner.start()
    try:
        yield app, channel
    finally:
        await runner.stop()
        await channel.stop()
        await app.close()


def _counts(api: FakeZaloAPI) -> Counter:
    return Counter(s["text"] for s in api.sent_of("sendMessage"))


async def _wait(predicate, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def test_polling_clears_the_webhook_and_answers(api, running) -> None:
    api.webhook = {"url": "https://old", "secret_token": "x" * 8, "updated_at": 1}
    api.push_event(text="xin chào", message_id="m-1")
    [sent] = await api.await_sent(1, timeout=15)
    assert api.webhook is None
    assert api.calls_of("deleteWebhook")
    assert "1. Hỏi đáp" in sent["text"] and sent["text"].endswith("Trả lời 1, 2 hoặc 3.")
    api.push_event(text="3", message_id="m-2")
    sent = await api.await_sent(2, timeout=15)
    assert "113" in sent[-1]["text"] and "115" in sent[-1]["text"]


async def test_redelivered_events_are_answered_once(api, running) -> None:
    event = api.push_event(text="xin chào", message_id="same-id")
    with api._lock:
        api._events.append(event)  # Zalo delivers the same event twice
    api.push_event(text="/sos", message_id="other-id")
    await api.await_sent(2, timeout=15)
    await asyncio.sleep(0.5)
    counts = _counts(api)
    assert len(api.sent_of("sendMessage")) == 2, counts
    assert all(n == 1 for n in counts.values())


async def test_unsupported_and_media_events_get_a_text_answer(api, running) -> None:
    api.push_event("message.unsupported.received", message_id="u-1")
    api.push_event("message.sticker.received", sticker="abc", message_id="u-2")
    api.push_event("message.image.received", photo="https://x/y.jpg", message_id="u-3")
    sent = await api.await_sent(3, timeout=15)
    assert all(s["text"].strip() and "1. Hỏi đáp" in s["text"] for s in sent)


async def test_transient_failures_delay_but_never_lose_or_duplicate(api, running) -> None:
    app, _ = running
    api.fail_next("getUpdates", 500, count=2)
    api.rate_limit("getUpdates", 1)
    api.fail_next("sendMessage", 500)
    api.rate_limit("sendMessage", 2)
    api.delay_next("sendMessage", 0.5)  # slow but within the client's timeout
    api.fail_next("sendMessage", 503, http_200=True)
    texts = ["xin chào", "/sos", "/help", "/menu", "/khancap"]
    for i, text in enumerate(texts):
        api.push_event(text=text, message_id=f"t-{i}", chat_id=f"chat{i}")
    await api.await_sent(len(texts), timeout=40)
    await asyncio.sleep(0.5)
    sent = api.sent_of("sendMessage")
    by_chat = Counter(s["chat_id"] for s in sent)
    assert by_chat == Counter({f"chat{i}": 1 for i in range(len(texts))}), by_chat
    failed = [c for c in api.calls_of("sendMessage") if c["status"] != 200]
    assert len(failed) >= 3  # the faults really happened


async def test_a_poll_that_times_out_client_side_is_retried(api, tmp_path) -> None:
    from bot.runner import Runner

    app = await _make_app(tmp_path, "timeout.db")
    channel = ZaloChannel(api.token, base_url=api.base_url, http_timeout=0.3, poll_timeout=0.1)
    app.add_sender("zalo", channel)
    api.delay_next("getUpdates", 1.2, count=2)  # longer than read timeout 0.3 + 0.1
    await channel.start(app)
    runner = Runner(app, tick_seconds=0.1)
    runner.start()
    try:
        await _wait(lambda: len(api.calls_of("getUpdates")) >= 3 or len(api.calls) >= 4)
        api.push_event(text="/sos", message_id="after-timeout")
        [sent] = await api.await_sent(1, timeout=20)
        assert "113" in sent["text"]
    finally:
        await runner.stop()
        await channel.stop()
        await app.close()


async def test_one_poller_per_token(api, tmp_path) -> None:
    app = await _make_app(tmp_path, "two.db")
    first = ZaloChannel(api.token, base_url=api.base_url, poll_timeout=0.1)
    second = ZaloChannel(api.token, base_url=api.base_url, poll_timeout=0.1)
    await first.start(app)
    try:
        with pytest.raises(RuntimeError):
            await second.start(app)
    finally:
        await first.stop()
        await second.stop()
    third = ZaloChannel(api.token, base_url=api.base_url, poll_timeout=0.1)
    await third.start(app)  # the token is free again after stop()
    await third.stop()
    await app.close()


async def test_a_rejected_token_stops_start_with_a_clear_message(api, tmp_path) -> None:
    from bot.config import ConfigError

    app = await _make_app(tmp_path, "bad.db")
    channel = ZaloChannel("111:wrong-token-abcdef", base_url=api.base_url)
    with pytest.raises(ConfigError) as info:
        await channel.start(app)
    assert "wrong-token" not in str(info.value)
    await app.close()


def test_the_channel_never_shows_its_token(api) -> None:
    channel = ZaloChannel(api.token, base_url=api.base_url)
    assert api.token not in repr(channel) and api.token not in repr(channel.bot)
    assert isinstance(channel.bot, Bot)


# ------------------------------------------------------------- bvte run


class BvteProcess:
    """`python -m bot run` in a subprocess with the given environment."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *args: str) -> None:
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("BVTE_")
        } | {
            "BVTE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
            "BVTE_SECRET_KEY": SECRET_KEY,
            "BVTE_TICK_SECONDS": "0.5",
            "PYTHONPATH": str(ROOT),
            **env,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *args], cwd=tmp_path, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.stdout = self.stderr = ""

    def terminate(self, timeout: float = 10.0) -> float:
        """SIGTERM; returns how long the process took to exit."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.stdout, self.stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.stdout, self.stderr = self.proc.communicate()
            raise AssertionError("bvte run did not stop within the timeout") from None
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def _check_sent(sent: list[dict]) -> None:
    for item in sent:
        text = item.get("text", "")
        assert text.strip() and len(text) <= 2000, text


@pytest.mark.slow
def test_bvte_run_with_only_zalo(tmp_path: Path) -> None:
    with FakeZaloAPI() as api:
        bvte = BvteProcess(
            tmp_path, {"BVTE_ZALO_TOKEN": api.token, "BVTE_ZALO_BASE_URL": api.base_url}
        )
        try:
            api.push_event(text="xin chào", message_id="r-1")
            [greeting] = api.wait_for_sent(1, timeout=40)
            assert "\n1. Hỏi đáp\n2. Báo tin\n3. Số khẩn cấp\n" in greeting["text"]
            assert greeting["text"].endswith("Trả lời 1, 2 hoặc 3.")
            api.push_event(text="3", message_id="r-2")
            numbers = api.wait_for_sent(2, timeout=15)[-1]["text"]
            assert all(n in numbers for n in ("111", "113", "115"))
            count = 2
            if HAS_UNDERSTANDING:
                api.push_event(text="cứu con với bố đang đánh", message_id="r-3")
                replies = api.wait_for_sent(3, timeout=15)[2:]
                assert any(all(n in r["text"] for n in ("111", "113", "115")) for r in replies)
                count = 3
            api.push_event("message.unsupported.received", message_id="r-4")
            sent = api.wait_for_sent(count + 1, timeout=15)
            _check_sent(api.sent_of("sendMessage"))
            assert len(sent) == count + 1
        finally:
            took = bvte.terminate()
        assert took < 10
        assert bvte.proc.returncode == 0, bvte.stderr[-2000:]
        for stream in (bvte.stdout, bvte.stderr):
            assert api.token not in stream
            assert api.token.split(":", 1)[1] not in stream
        assert "Traceback" not in bvte.stderr


@NEEDS_KB
@pytest.mark.slow
def test_bvte_run_answers_an_emergency_with_the_numbers(tmp_path: Path) -> None:
    with FakeZaloAPI() as api:
        bvte = BvteProcess(
            tmp_path, {"BVTE_ZALO_TOKEN": api.token, "BVTE_ZALO_BASE_URL": api.base_url}
        )
        try:
            api.push_event(text="cứu con với bố đang đánh", message_id="e-1")
            sent = api.wait_for_sent(1, timeout=40)
            time.sleep(1.0)
            sent = api.sent_of("sendMessage")
            assert any(all(n in s["text"] for n in ("111", "113", "115")) for s in sent), sent
            _check_sent(sent)
        finally:
            bvte.terminate()


@pytest.mark.slow
def test_bvte_run_serves_telegram_and_zalo_in_one_process(tmp_path: Path) -> None:
    from tests.fakes.telegram_api import FakeTelegramAPI

    with FakeZaloAPI() as zalo, FakeTelegramAPI(token="123456:TELEGRAM-fake-token") as tg:
        bvte = BvteProcess(
            tmp_path,
            {
                "BVTE_ZALO_TOKEN": zalo.token, "BVTE_ZALO_BASE_URL": zalo.base_url,
                "BVTE_TELEGRAM_TOKEN": tg.token, "BVTE_TELEGRAM_BASE_URL": tg.base_url,
            },
        )
        try:
            zalo.push_event(text="/sos", message_id="z-1")
            tg.push_message(4242, "/sos")
            [z] = zalo.wait_for_sent(1, timeout=40)
            [t] = tg.wait_for(lambda e: e["method"] == "sendMessage" and e["status"] == 200,
                              timeout=40)
            assert "113" in z["text"] and "113" in t["text"]
            _check_sent([z])
        finally:
            took = bvte.terminate()
        assert took < 10 and bvte.proc.returncode == 0, bvte.stderr[-2000:]
        for secret in (zalo.token, tg.token, "TELEGRAM-fake-token"):
            assert secret not in bvte.stdout + bvte.stderr
