"""The fake Bot API, driven by a real python-telegram-bot Bot / Application."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.fakes.telegram_api import FakeTelegramAPI, parse_html

TEST_TIMEOUT = 20
# RetryAfter.retry_after warns that it becomes a timedelta in PTB 23.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@pytest.fixture
def tg() -> Iterator[FakeTelegramAPI]:
    with FakeTelegramAPI(max_hold=0.5) as fake:
        yield fake


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _raw_post(url: str, body: bytes = b"", content_type: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _build_app(tg: FakeTelegramAPI, seen: list) -> Application:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(("start", list(context.args or [])))
        keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton("Có", callback_data="ans:y")],
                [InlineKeyboardButton("Không", callback_data="ans:n")],
            ]
        )
        await update.effective_message.reply_text("Xin chào! Bạn cần gì?", reply_markup=keyboard)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        seen.append(("press", query.data))
        await query.answer("Đã nhận")
        await query.edit_message_text(f"Bạn chọn: {query.data}")

    app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    return app


@asynccontextmanager
async def _polling(app: Application) -> AsyncIterator[Application]:
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@asynccontextmanager
async def _bot(tg: FakeTelegramAPI) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.base_url) as bot:
        yield bot


# --- polling ---------------------------------------------------------------------------


async def test_polling_start_replies_with_inline_keyboard(tg: FakeTelegramAPI) -> None:
    seen: list = []
    async with asyncio.timeout(TEST_TIMEOUT), _polling(_build_app(tg, seen)):
        update = tg.push_message(42, "/start quan-son")
        assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
        [sent] = await tg.wait_for_async("sendMessage")
    assert seen == [("start", ["quan-son"])]
    assert sent["chat_id"] == 42
    assert sent["text"] == "Xin chào! Bạn cần gì?"
    buttons = [b["callback_data"] for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["ans:y", "ans:n"]
    assert sent["result"]["reply_markup"] == sent["reply_markup"]
    assert sent["result"]["chat"] == {"id": 42, "type": "private", "first_name": "Ann"}
    assert tg.sent_messages(42) == [sent]
    assert tg.sent_messages(43) == []
    # The stopping getUpdates confirmed the update: nothing is left to deliver.
    assert tg.pending_updates == []
    assert [e["method"] for e in tg.sent][:2] == ["getMe", "deleteWebhook"]


async def test_callback_press_is_answered_and_message_edited(tg: FakeTelegramAPI) -> None:
    seen: list = []
    async with asyncio.timeout(TEST_TIMEOUT), _polling(_build_app(tg, seen)):
        tg.push_message(42, "/start")
        [sent] = await tg.wait_for_async("sendMessage")
        update = tg.push_callback(42, "ans:y")
        assert update["callback_query"]["message"]["message_id"] == sent["result"]["message_id"]
        await tg.wait_for_async("answerCallbackQuery")
        [edit] = await tg.wait_for_async("editMessageText")
    assert ("press", "ans:y") in seen
    [answer] = tg.callback_answers
    assert answer["callback_query_id"] == update["callback_query"]["id"]
    assert answer["text"] == "Đã nhận"
    assert edit["status"] == 200
    assert edit["message_id"] == sent["result"]["message_id"]
    assert edit["result"]["text"] == "Bạn chọn: ans:y"
    assert "reply_markup" not in edit["result"]  # an edit without markup drops the keyboard
    assert tg.messages(42)[-1]["text"] == "Bạn chọn: ans:y"
    # A query is answered once; later answers are "too old".
    async with _bot(tg) as bot:
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await bot.answer_callback_query(update["callback_query"]["id"])


async def test_get_updates_offset_limit_and_hold(tg: FakeTelegramAPI) -> None:
    ids = [tg.push_message(7, f"tin {n}")["update_id"] for n in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    async with asyncio.timeout(TEST_TIMEOUT), _bot(tg) as bot:
        assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
        got = await bot.get_updates(offset=ids[1])  # confirms ids[0]
        assert [u.update_id for u in got] == ids[1:]
        assert [u.update_id for u in await bot.get_updates()] == ids[1:]
        assert got[0].message.text == "tin 1"
        started = time.monotonic()
        assert await bot.get_updates(offset=ids[2] + 1, timeout=5) == ()
        held = time.monotonic() - started
        assert 0.4 <= held < 2.0  # held for max_hold (0.5 s), not the 5 s asked
        # An update pushed while a request is held is returned at once.
        waiter = asyncio.create_task(bot.get_updates(offset=ids[2] + 1, timeout=5))
        await asyncio.sleep(0.1)
        pushed = tg.push_update(
            {
                "edited_message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": {"id": 7, "type": "private"},
                    "edit_date": 2,
                    "text": "sửa",
                }
            }
        )
        [late] = await waiter
        assert late.update_id == pushed["update_id"] > ids[2]
        assert late.edited_message.text == "sửa"


# --- webhook ---------------------------------------------------------------------------


async def test_webhook_secret_is_checked(tg: FakeTelegramAPI) -> None:
    seen: list = []
    app = _build_app(tg, seen)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/tg"
    async with asyncio.timeout(TEST_TIMEOUT):
        await app.initialize()
        await app.start()
        await app.updater.start_webhook(
            listen="127.0.0.1", port=port, url_path="tg", secret_token="s3cret", webhook_url=url
        )
        try:
            assert tg.webhook is not None
            assert tg.webhook["url"] == url and tg.webhook["secret_token"] == "s3cret"
            async with _bot(tg) as bot:
                with pytest.raises(Conflict):
                    await bot.get_updates()
                info = await bot.get_webhook_info()
                assert info.url == url

            wrong = tg.make_message_update(50, "/start sai")
            assert await tg.post_webhook_async(url, wrong, "wrong") == 403
            assert await tg.post_webhook_async(url, wrong, None) == 403
            good = tg.make_message_update(51, "/start dung")
            json_charset = "application/json; charset=utf-8"
            assert await tg.post_webhook_async(url, good, "s3cret", json_charset) == 403
            assert await tg.post_webhook_async(url, good, "s3cret") == 200
            [sent] = await tg.wait_for_async("sendMessage")
            assert sent["chat_id"] == 51

            # Pushed updates are delivered to a loopback webhook, as Telegram would.
            tg.push_message(52, "/start day")
            await tg.wait_for_async("sendMessage", count=2)
            assert tg.webhook_deliveries[-1]["status"] == 200
            await asyncio.sleep(0.3)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
    assert seen == [("start", ["dung"]), ("start", ["day"])]
    assert [m["chat_id"] for m in tg.sent_messages()] == [51, 52]
    assert tg.pending_updates == []


# --- limits and faults -----------------------------------------------------------------


async def test_enforce_limits_per_private_chat_and_group() -> None:
    with FakeTelegramAPI(enforce_limits=True, group_per_min=3) as tg:
        async with asyncio.timeout(TEST_TIMEOUT), _bot(tg) as bot:
            await bot.send_message(7, "một")
            await bot.send_message(7, "hai")  # burst of 2 tolerated
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(7, "ba")
            assert caught.value.retry_after == 1
            await bot.send_message(8, "chat khác không bị ảnh hưởng")
            for n in range(3):
                await bot.send_message(-100, f"nhóm {n}")
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(-100, "quá giới hạn nhóm")
            assert 55 <= caught.value.retry_after <= 60
            await asyncio.sleep(1.1)
            await bot.send_message(7, "ba, sau khi chờ")
        assert tg.count_429 == 2
        assert len(tg.accepted_times) == 7
        assert [c for _, c in tg.accepted_sends].count(7) == 3
        assert [e["status"] for e in tg.sent if e["method"] == "sendMessage"].count(429) == 2


async def test_enforce_limits_global_rate() -> None:
    with FakeTelegramAPI(enforce_limits=True, rate_per_s=5) as tg:
        async with asyncio.timeout(TEST_TIMEOUT), _bot(tg) as bot:
            results = await asyncio.gather(
                *(bot.send_message(1000 + n, "x") for n in range(10)), return_exceptions=True
            )
        limited = [r for r in results if isinstance(r, RetryAfter)]
        assert len(limited) == 4  # bucket of rate_per_s + 1
        assert tg.count_429 == 4


async def test_limits_not_enforced_by_default(tg: FakeTelegramAPI) -> None:
    async with asyncio.timeout(TEST_TIMEOUT), _bot(tg) as bot:
        for n in range(5):
            await bot.send_message(7, f"tin {n}")
    assert tg.count_429 == 0
    assert len(tg.accepted_times) == 5


async def test_fault_injection(tg: FakeTelegramAPI) -> None:
    async with asyncio.timeout(TEST_TIMEOUT), _bot(tg) as bot:
        tg.fail_next("sendMessage", 500)
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(7, "lỗi")
        assert (await bot.send_message(7, "lại")).text == "lại"

        tg.fail_next("sendMessage", 400, count=2, description="Bad Request: chat not found")
        for _ in range(2):
            with pytest.raises(BadRequest, match="Chat not found"):
                await bot.send_message(7, "x")

        tg.retry_after_next("sendMessage", 3)
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(7, "x")
        assert caught.value.retry_after == 3
        assert tg.count_429 == 1

        tg.block_chat(9)
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(9, "x")
        tg.unblock_chat(9)
        await bot.send_message(9, "x")

        tg.delay_next("getMe", 0.4)
        started = time.monotonic()
        await bot.get_me()
        assert time.monotonic() - started >= 0.4
        started = time.monotonic()
        await bot.get_me()
        assert time.monotonic() - started < 0.4


async def test_polling_survives_get_updates_failure(tg: FakeTelegramAPI) -> None:
    seen: list = []
    tg.fail_next("getUpdates", 502)
    async with asyncio.timeout(TEST_TIMEOUT), _polling(_build_app(tg, seen)):
        tg.push_message(42, "/start")
        await tg.wait_for_async("sendMessage")
    assert seen == [("start", [])]


# --- validation and other methods ------------------------------------------------------


async def test_send_message_validation(tg: FakeTelegramAPI) -> None:
    async with asyncio.timeout(TEST_TIMEOUT), _bot(tg) as bot:
        with pytest.raises(BadRequest, match="(?i)message text is empty"):
            await bot.send_message(7, "")
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await bot.send_message(7, "a" * 4097)
        await bot.send_message(7, "ạ" * 4096)
        too_big = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
        with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
            await bot.send_message(7, "x", reply_markup=too_big)
        with pytest.raises(BadRequest, match="(?i)can't parse entities"):
            await bot.send_message(7, "1 < 2", parse_mode="HTML")
        message = await bot.send_message(7, "<b>Chào</b> bạn &amp; 😀 <i>em</i>", parse_mode="HTML")
    assert message.text == "Chào bạn & 😀 em"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 4),
        ("italic", 14, 2),  # the emoji is 2 UTF-16 units
    ]
    assert len(tg.sent_messages(7)) == 2


def test_parse_html_nesting_and_errors() -> None:
    text, entities = parse_html(
        '<pre><code class="language-py">x=1</code></pre><a href="https://a.vn">a</a>'
    )
    assert text == "x=1a"
    assert entities == [
        {"type": "pre", "language": "py", "offset": 0, "length": 3},
        {"type": "text_link", "url": "https://a.vn", "offset": 3, "length": 1},
    ]
    for bad in ("<b>x", "<b>x</i>", "<div>x</div>", "</b>"):
        with pytest.raises(Exception, match="can't parse entities"):
            parse_html(bad)


async def test_edit_delete_commands_and_chat_action(tg: FakeTelegramAPI) -> None:
    async with asyncio.timeout(TEST_TIMEOUT), _bot(tg) as bot:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
        message = await bot.send_message(-5, "nhóm", reply_markup=keyboard)
        assert message.chat.type == "group"
        edited = await bot.edit_message_text(
            "nhóm mới", chat_id=-5, message_id=message.message_id, reply_markup=keyboard
        )
        assert edited.text == "nhóm mới" and edited.edit_date is not None
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_text(
                "nhóm mới", chat_id=-5, message_id=message.message_id, reply_markup=keyboard
            )
        stripped = await bot.edit_message_reply_markup(chat_id=-5, message_id=message.message_id)
        assert stripped.reply_markup is None
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=-5, message_id=9999)
        assert await bot.send_chat_action(-5, "typing") is True
        assert await bot.delete_message(-5, message.message_id) is True
        with pytest.raises(BadRequest, match="(?i)message to delete not found"):
            await bot.delete_message(-5, message.message_id)
        assert tg.messages(-5) == []

        commands = [BotCommand("start", "Bắt đầu"), BotCommand("help", "Trợ giúp")]
        assert await bot.set_my_commands(commands) is True
        assert await bot.get_my_commands() == tuple(commands)
        assert await bot.get_my_commands(language_code="en") == ()
        with pytest.raises(BadRequest):
            await bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def test_unknown_token_and_method(tg: FakeTelegramAPI) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        with pytest.raises(InvalidToken):
            async with Bot("999:XYZ", base_url=tg.base_url):
                pass
        status, body = await asyncio.to_thread(_raw_post, f"{tg.base_url}999:XYZ/getMe")
        assert (status, body) == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )
        status, body = await asyncio.to_thread(_raw_post, f"{tg.base_url}{tg.token}/fooBar")
        assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
        status, body = await asyncio.to_thread(_raw_post, f"{tg.base_url}{tg.token}/getMe")
        assert status == 200 and body["result"]["username"] == "fakebot"


async def test_json_and_form_bodies(tg: FakeTelegramAPI) -> None:
    url = f"{tg.base_url}{tg.token}/sendMessage"
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    payload = {"chat_id": 5, "text": "123", "reply_markup": markup}
    status, body = await asyncio.to_thread(
        _raw_post, url, json.dumps(payload).encode(), "application/json"
    )
    assert status == 200 and body["result"]["text"] == "123"
    assert body["result"]["reply_markup"] == markup
    form = "chat_id=5&text=true&reply_markup=" + urllib.request.quote(json.dumps(markup))
    status, body = await asyncio.to_thread(
        _raw_post, url, form.encode(), "application/x-www-form-urlencoded"
    )
    assert status == 200 and body["result"]["text"] == "true"  # text stays a string
    first, second = tg.sent_messages(5)
    assert first["reply_markup"] == second["reply_markup"] == markup
    assert second["result"]["message_id"] > first["result"]["message_id"]


def test_wait_for_times_out_with_predicate(tg: FakeTelegramAPI) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        tg.wait_for(lambda e: e.get("chat_id") == 1, timeout=0.3)
    assert time.monotonic() - started < 2
    with pytest.raises(LookupError):
        tg.push_callback(1, "x")


async def test_uploads_are_decoded(tg: FakeTelegramAPI) -> None:
    async with asyncio.timeout(TEST_TIMEOUT), _bot(tg) as bot:
        doc = await bot.send_document(
            7, document=b"%PDF-1.4", filename="tai-lieu.pdf", caption="Tài liệu"
        )
        photo = await bot.send_photo(7, photo=b"\x89PNG....", caption="Ảnh")
    assert doc.document.file_name == "tai-lieu.pdf" and doc.document.file_size == 8
    assert doc.caption == "Tài liệu"
    assert photo.photo and photo.caption == "Ảnh"
    [sent] = [e for e in tg.sent if e["method"] == "sendDocument"]
    assert sent["document"]["content"] == b"%PDF-1.4" and sent["chat_id"] == 7


async def test_aio_rate_limiter_stays_within_enforced_limits() -> None:
    from telegram.ext import AIORateLimiter

    with FakeTelegramAPI(enforce_limits=True, rate_per_s=10) as tg:
        async with asyncio.timeout(TEST_TIMEOUT):
            app = (
                ApplicationBuilder()
                .token(tg.token)
                .base_url(tg.base_url)
                .rate_limiter(AIORateLimiter(overall_max_rate=10, overall_time_period=1))
                .build()
            )
            async with app:
                await asyncio.gather(*(app.bot.send_message(2000 + n, "x") for n in range(25)))
        assert tg.count_429 == 0
        assert len(tg.accepted_times) == 25
