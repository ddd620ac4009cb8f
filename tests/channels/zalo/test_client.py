"""bot.channels.zalo.client.Bot against tests.fakes.zalo_api.FakeZaloAPI."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.channels.zalo import (
    BadRequest,
    Bot,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
    Update,
    ZaloError,
    parse_update,
)
from tests.fakes.server import ServerThread
from tests.fakes.zalo_api import DEFAULT_CHAT_ID, FakeZaloAPI, make_event

USER_ID = "a1b2c3d4e5f60718293a"


class SleepRecorder:
    """Injected back-off sleep: records delays, does not wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def api():
    with FakeZaloAPI(max_hold=0.2) as fake:
        yield fake


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def bot(api: FakeZaloAPI, sleeps: SleepRecorder):
    client = Bot(api.token, api.base_url, timeout=2.0, max_retries=3, sleep=sleeps)
    yield client
    await client.shutdown()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ------------------------------------------------------------------- basics


async def test_get_me_and_initialize_cache(api: FakeZaloAPI) -> None:
    async with Bot(api.token, api.base_url) as client:
        assert client.me is not None
        assert client.me.id == "7012345678901234567"
        assert client.me.account_name == "bot.bvte"
        assert client.me.can_join_groups is False
        await client.initialize()  # cached: no second getMe
    assert [c["method"] for c in api.calls] == ["getMe"]
    assert api.calls[0]["params"] == {}  # no-arg method: empty body


async def test_bad_token_raises_invalid_token(api: FakeZaloAPI) -> None:
    client = Bot("42:not-the-right-secret", api.base_url, sleep=SleepRecorder())
    with pytest.raises(InvalidToken) as info:
        async with client:
            pass
    assert info.value.error_code == 401
    assert info.value.http_status == 401
    assert len(api.calls) == 1  # auth errors are not retried


def test_rejects_malformed_token() -> None:
    with pytest.raises(ValueError):
        Bot("")
    with pytest.raises(ValueError):
        Bot("123:abc/def")


def test_repr_hides_token(api: FakeZaloAPI) -> None:
    assert api.token not in repr(Bot(api.token, api.base_url))


# ------------------------------------------------------------------ polling


async def test_idle_poll_returns_none(bot: Bot, api: FakeZaloAPI) -> None:
    assert await bot.get_update(timeout=5) is None
    assert [c["status"] for c in api.calls_of("getUpdates")] == [408]
    assert api.calls_of("getUpdates")[0]["params"] == {"timeout": "5"}


async def test_idle_poll_with_http_200_envelope_returns_none(sleeps: SleepRecorder) -> None:
    with FakeZaloAPI(max_hold=0.1, errors_as_http_200=True) as fake:
        async with Bot(fake.token, fake.base_url, sleep=sleeps) as client:
            assert await client.get_update(timeout=1) is None
    assert sleeps.delays == []


async def test_idle_poll_with_string_error_code_returns_none(bot: Bot, api: FakeZaloAPI) -> None:
    api.fail_next(
        "getUpdates", 200, body={"ok": False, "error_code": "408", "description": "Request timeout"}
    )
    assert await bot.get_update(timeout=1) is None


async def test_one_event_per_call(bot: Bot, api: FakeZaloAPI) -> None:
    first = api.push_event(text="xin chào", chat_id="c-1", user_id=USER_ID)
    second = api.push_event(text="/start", chat_id="c-2")

    got1 = await bot.get_update(timeout=1)
    got2 = await bot.get_updates(timeout=1)  # plural alias
    assert isinstance(got1, Update) and isinstance(got2, Update)
    assert got1.event_name == "message.text.received"
    assert got1.message is not None and got1.message.text == "xin chào"
    assert got1.message.message_id == first["message"]["message_id"]
    assert got1.effective_chat is not None and got1.effective_chat.id == "c-1"
    assert got1.effective_user is not None and got1.effective_user.id == USER_ID
    assert got2.message is not None and got2.message.text == "/start"
    assert got2.message.message_id == second["message"]["message_id"]
    assert await bot.get_update(timeout=1) is None
    assert api.pending_events == 0


async def test_poll_without_timeout_sends_no_timeout_param(bot: Bot, api: FakeZaloAPI) -> None:
    api.push_event(text="a")
    update = await bot.get_update()
    assert update is not None
    assert api.calls_of("getUpdates")[0]["params"] == {}


async def test_unsupported_event_has_no_text(bot: Bot, api: FakeZaloAPI) -> None:
    api.push_event("message.unsupported.received")
    update = await bot.get_update(timeout=1)
    assert update is not None and update.message is not None
    assert update.event_name == "message.unsupported.received"
    assert update.message.text is None


async def test_image_event_fills_photo_url(bot: Bot, api: FakeZaloAPI) -> None:
    api.push_event("message.image.received", photo="https://img.example/1.jpg", caption="ảnh")
    update = await bot.get_update(timeout=1)
    assert update is not None and update.message is not None
    assert update.message.photo == "https://img.example/1.jpg"
    assert update.message.photo_url == "https://img.example/1.jpg"
    assert update.message.caption == "ảnh"


# -------------------------------------------------------------------- sends


async def test_send_message(bot: Bot, api: FakeZaloAPI) -> None:
    message = await bot.send_message(DEFAULT_CHAT_ID, "Xin chào bạn")
    assert isinstance(message.message_id, str) and len(message.message_id) == 20
    assert message.chat is not None and message.chat.id == DEFAULT_CHAT_ID
    assert message.text == "Xin chào bạn"
    assert message.date is not None and message.date.tzinfo is not None
    (sent,) = api.sent
    assert sent["method"] == "sendMessage"
    assert sent["chat_id"] == DEFAULT_CHAT_ID
    assert sent["text"] == "Xin chào bạn"
    assert "reply_to_message_id" not in sent  # None arguments are dropped
    assert sent["message_id"] == message.message_id


async def test_send_message_reply_to(bot: Bot, api: FakeZaloAPI) -> None:
    await bot.send_message("c1", "ok", reply_to_message_id="abc123")
    assert api.sent[0]["reply_to_message_id"] == "abc123"


async def test_send_photo_sticker_and_action(bot: Bot, api: FakeZaloAPI) -> None:
    photo = await bot.send_photo("c1", "chú thích", "https://img.example/a.png")
    await bot.send_photo("c1", None, "https://img.example/b.png")
    await bot.send_sticker("c1", "sticker-42")
    assert await bot.send_chat_action("c1", "typing") is True
    assert photo.photo_url == "https://img.example/a.png"
    assert [s["method"] for s in api.sent] == [
        "sendPhoto",
        "sendPhoto",
        "sendSticker",
        "sendChatAction",
    ]
    assert api.sent[0]["caption"] == "chú thích"
    assert api.sent[0]["photo"] == "https://img.example/a.png"
    assert "caption" not in api.sent[1]
    assert api.sent[2]["sticker"] == "sticker-42"
    assert api.sent[3]["action"] == "typing"
    assert len(api.wait_for_sent(2, method="sendPhoto")) == 2


async def test_too_long_text_is_bad_request_and_not_retried(
    bot: Bot, api: FakeZaloAPI, sleeps: SleepRecorder
) -> None:
    with pytest.raises(BadRequest) as info:
        await bot.send_message("c1", "x" * 2001)
    assert info.value.error_code == 400
    assert len(api.calls_of("sendMessage")) == 1
    assert sleeps.delays == []
    assert api.sent == []


async def test_ok_false_on_http_200_raises(bot: Bot, api: FakeZaloAPI) -> None:
    api.fail_next("sendMessage", 400, http_200=True)
    with pytest.raises(BadRequest) as info:
        await bot.send_message("c1", "hi")
    assert info.value.http_status == 200
    assert info.value.error_code == 400
    assert api.sent == []


async def test_ok_false_without_code_raises_base_error(bot: Bot, api: FakeZaloAPI) -> None:
    api.fail_next("sendMessage", 200, body={"ok": False, "description": "lỗi lạ"})
    with pytest.raises(ZaloError) as info:
        await bot.send_message("c1", "hi")
    assert type(info.value) is ZaloError
    assert "lỗi lạ" in str(info.value)
    assert len(api.calls_of("sendMessage")) == 1


async def test_string_error_code_is_coerced(bot: Bot, api: FakeZaloAPI) -> None:
    api.fail_next(
        "sendMessage", 200, body={"ok": False, "error_code": "403", "description": "Forbidden"}
    )
    with pytest.raises(Forbidden) as info:
        await bot.send_message("c1", "hi")
    assert info.value.error_code == 403


async def test_events_and_replies_round_trip(api: FakeZaloAPI, sleeps: SleepRecorder) -> None:
    """A tiny echo loop: what a poller will do."""
    api.push_event(text="một", chat_id="c1")
    api.push_event(text="hai", chat_id="c2")
    async with Bot(api.token, api.base_url, sleep=sleeps) as client:
        for _ in range(3):
            update = await client.get_update(timeout=1)
            if update is None or update.message is None or update.message.chat is None:
                continue
            await client.send_message(update.message.chat.id, f"đã nhận: {update.message.text}")
    sent = await api.await_sent(2, method="sendMessage")
    assert [(s["chat_id"], s["text"]) for s in sent] == [
        ("c1", "đã nhận: một"),
        ("c2", "đã nhận: hai"),
    ]


# ------------------------------------------------------------------ retries


async def test_500_then_success_is_retried_and_delivered_once(
    bot: Bot, api: FakeZaloAPI, sleeps: SleepRecorder
) -> None:
    api.fail_next("sendMessage", 500)
    message = await bot.send_message("c1", "một lần thôi")
    assert [c["status"] for c in api.calls_of("sendMessage")] == [500, 200]
    assert len(api.sent) == 1
    assert api.sent[0]["message_id"] == message.message_id
    assert len(sleeps.delays) == 1


async def test_5xx_retries_are_bounded_with_growing_backoff(
    api: FakeZaloAPI, sleeps: SleepRecorder
) -> None:
    client = Bot(
        api.token, api.base_url, max_retries=3, backoff_base=0.5, jitter=0.25, sleep=sleeps
    )
    api.fail_next("sendMessage", 502, count=10)
    with pytest.raises(NetworkError) as info:
        await client.send_message("c1", "hi")
    await client.shutdown()
    assert info.value.error_code == 502
    assert len(api.calls_of("sendMessage")) == 4  # 1 + 3 retries
    assert len(sleeps.delays) == 3
    for attempt, delay in enumerate(sleeps.delays):
        base = 0.5 * 2**attempt
        assert base <= delay <= base * 1.25


async def test_backoff_is_capped(api: FakeZaloAPI, sleeps: SleepRecorder) -> None:
    client = Bot(
        api.token, api.base_url, max_retries=6, backoff_base=1.0, backoff_max=3.0, sleep=sleeps
    )
    api.fail_next("getMe", 503, count=6)
    await client.get_me()
    await client.shutdown()
    assert len(sleeps.delays) == 6
    assert max(sleeps.delays) <= 3.0
    assert sleeps.delays[-1] == 3.0


async def test_429_backs_off_and_retries(bot: Bot, api: FakeZaloAPI, sleeps: SleepRecorder) -> None:
    api.rate_limit("sendMessage", 2)
    await bot.send_message("c1", "hi")
    assert [c["status"] for c in api.calls_of("sendMessage")] == [429, 429, 200]
    assert len(api.sent) == 1
    assert len(sleeps.delays) == 2
    assert sleeps.delays[1] > sleeps.delays[0]  # exponential, jitter < doubling


async def test_429_honours_retry_after(bot: Bot, api: FakeZaloAPI, sleeps: SleepRecorder) -> None:
    api.rate_limit("sendMessage", 1, retry_after=3)
    await bot.send_message("c1", "hi")
    assert sleeps.delays == [3.0]


async def test_429_with_long_retry_after_is_not_slept_on(
    api: FakeZaloAPI, sleeps: SleepRecorder
) -> None:
    client = Bot(api.token, api.base_url, backoff_max=10.0, sleep=sleeps)
    api.rate_limit("sendMessage", 1, retry_after=3600)
    with pytest.raises(RetryAfter) as info:
        await client.send_message("c1", "hi")
    await client.shutdown()
    assert info.value.retry_after == 3600
    assert sleeps.delays == []


async def test_429_exhausted_raises_retry_after(api: FakeZaloAPI, sleeps: SleepRecorder) -> None:
    client = Bot(api.token, api.base_url, max_retries=1, sleep=sleeps)
    api.rate_limit("sendMessage", 5, http_200=True)
    with pytest.raises(RetryAfter) as info:
        await client.send_message("c1", "hi")
    await client.shutdown()
    assert info.value.retry_after is None
    assert info.value.error_code == 429
    assert len(api.calls_of("sendMessage")) == 2
    assert api.sent == []


async def test_timeout_is_retried(api: FakeZaloAPI, sleeps: SleepRecorder) -> None:
    client = Bot(api.token, api.base_url, timeout=0.2, sleep=sleeps)
    api.delay_next("getMe", 0.8)
    me = await client.get_me()
    await client.shutdown()
    assert me.id == "7012345678901234567"
    assert len(sleeps.delays) == 1


async def test_timeout_without_retries_raises_timed_out(api: FakeZaloAPI) -> None:
    client = Bot(api.token, api.base_url, timeout=0.2, max_retries=0)
    api.delay_next("getMe", 0.8)
    with pytest.raises(TimedOut):
        await client.get_me()
    await client.shutdown()


async def test_transport_error_is_retried_then_raised(sleeps: SleepRecorder) -> None:
    client = Bot("55:transport-secret-xyz", _closed_port_url(), max_retries=2, sleep=sleeps)
    with pytest.raises(NetworkError) as info:
        await client.get_me()
    await client.shutdown()
    assert info.value.http_status is None
    assert len(sleeps.delays) == 2


# ----------------------------------------------------------- token secrecy


async def test_token_never_in_errors_or_logs(
    api: FakeZaloAPI, sleeps: SleepRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = api.token.split(":", 1)[1]
    errors: list[Exception] = []

    client = Bot(api.token, api.base_url, max_retries=1, sleep=sleeps)
    # A server that echoes the token back in its description.
    api.fail_next(
        "sendMessage",
        500,
        count=2,
        body={
            "ok": False,
            "error_code": 500,
            "description": f"boom at /bot{api.token}/sendMessage ({secret})",
        },
    )
    with pytest.raises(NetworkError) as info:
        await client.send_message("c1", "hi")
    errors.append(info.value)
    await client.get_me()
    await client.shutdown()

    dead = Bot(api.token, _closed_port_url(), max_retries=1, sleep=sleeps)
    with pytest.raises(NetworkError) as info:
        await dead.get_me()
    errors.append(info.value)
    await dead.shutdown()

    assert "<token>" in str(errors[0])
    for exc in errors:
        assert api.token not in str(exc) and secret not in str(exc)
        assert exc.__cause__ is None  # httpx exceptions (with URLs) are not chained
    messages = [record.getMessage() for record in caplog.records]
    assert any("<token>" in m for m in messages if "HTTP Request" in m)  # httpx's own log
    for text in messages + [caplog.text]:
        assert api.token not in text
        assert secret not in text


# ------------------------------------------------------------------ webhook


async def test_webhook_methods(bot: Bot, api: FakeZaloAPI) -> None:
    assert await bot.get_webhook_info() is None
    hook = await bot.set_webhook("https://bot.example.vn/zalo", "s3cret-8plus")
    assert hook.url == "https://bot.example.vn/zalo"
    assert hook.updated_at is not None and hook.updated_at.tzinfo is not None
    info = await bot.get_webhook_info()
    assert info is not None and info.url == "https://bot.example.vn/zalo"
    assert api.webhook is not None and api.webhook["secret_token"] == "s3cret-8plus"
    deleted = await bot.delete_webhook()
    assert deleted.url == ""
    assert await bot.get_webhook_info() is None


async def test_set_webhook_short_secret_is_bad_request(bot: Bot) -> None:
    with pytest.raises(BadRequest):
        await bot.set_webhook("https://bot.example.vn/zalo", "short")


def test_post_webhook_helper_wraps_and_sends_secret() -> None:
    received: list[tuple[str | None, dict]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append((request.headers.get("x-bot-api-secret-token"), await request.json()))
        return JSONResponse({"ok": True})

    event = make_event(text="chào", chat_id="c9")
    with ServerThread(Starlette(routes=[Route("/zalo", hook, methods=["POST"])])) as server:
        fake = FakeZaloAPI()
        assert fake.post_webhook(f"{server.url}/zalo", event, secret="s3cret-8plus") == 200
        assert fake.post_webhook(f"{server.url}/zalo", event, wrapped=False) == 200
    assert received[0] == ("s3cret-8plus", {"ok": True, "result": event})
    assert received[1] == (None, event)
    assert parse_update(received[0][1]) == parse_update(received[1][1])


# ------------------------------------------------------------------- models


async def test_extra_fields_are_tolerated(bot: Bot, api: FakeZaloAPI) -> None:
    api.me["brand_new_field"] = {"x": 1}
    api.push_event(text="hi", future_field="kept", chat_id="c1")
    me = await bot.get_me()
    assert me.model_extra == {"brand_new_field": {"x": 1}}
    update = await bot.get_update(timeout=1)
    assert update is not None and update.message is not None
    assert update.message.model_extra is not None
    assert update.message.model_extra["future_field"] == "kept"


def test_parse_update_accepts_both_shapes() -> None:
    event = make_event(text="/start", chat_id="0f1e2d3c4b5a69788796", date=1750316131602)
    wrapped = parse_update({"ok": True, "result": event})
    bare = parse_update(event)
    assert wrapped == bare
    assert bare.event_name == "message.text.received"
    assert bare.message is not None
    assert bare.message.date == datetime(2025, 6, 19, 6, 55, 31, 602000, tzinfo=UTC)
    assert bare.message.chat is not None and bare.message.chat.type == "PRIVATE"


def test_parse_update_rejects_bad_envelopes() -> None:
    with pytest.raises(ValueError):
        parse_update({"ok": False, "result": {"event_name": "x"}})
    with pytest.raises(ValueError):
        parse_update({"ok": True, "result": "nope"})
    with pytest.raises(ValueError):
        parse_update({"event_name": "x", "message": {"chat": {"chat_type": "PRIVATE"}}})


def test_ids_stay_strings() -> None:
    update = parse_update(
        {
            "event_name": "message.text.received",
            "message": {
                "message_id": "00ab",
                "date": "1750316131602",
                "chat": {"id": 7012345678901234567, "chat_type": "GROUP"},
                "from": {"id": "0012", "display_name": "Lan", "is_bot": False},
                "text": "chào",
            },
        }
    )
    message = update.message
    assert message is not None and message.chat is not None and message.from_user is not None
    assert message.message_id == "00ab"
    assert message.chat.id == "7012345678901234567"
    assert message.chat.is_group
    assert message.from_user.id == "0012"  # leading zeros survive
    assert message.date is not None and message.date.tzinfo is UTC


async def test_shared_http_client_is_not_closed(api: FakeZaloAPI) -> None:
    async with httpx.AsyncClient() as shared:
        async with Bot(api.token, api.base_url, http_client=shared) as client:
            await client.get_me()
        assert not shared.is_closed
