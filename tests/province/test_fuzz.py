"""Hypothesis-generated updates against every channel's translation and webhook.

Random and huge text, missing fields, unknown update kinds and values of the wrong
type: the adapters either translate or refuse with ValueError (never another
exception), and the webhook endpoints answer 200 or 400 (413 over the size limit) — never 500.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.app import build_app
from bot.channels.telegram.adapter import TelegramChannel, WebhookConfig
from bot.channels.zalo.adapter import ZaloChannel, ZaloWebhookConfig
from bot.config import Settings
from bot.web import create_web_app
from handlers.messages import Inbound
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.zalo_api import FakeZaloAPI

HOOK_SECRET = "fuzz-hook-secret-0123"
TG_HEADER = {"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET}
ZALO_HEADER = {"X-Bot-Api-Secret-Token": HOOK_SECRET}

# ------------------------------------------------------------------ strategies

leaf = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30)
)
json_any = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
huge_text = st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=8),
                      st.integers(min_value=500, max_value=40_000))
any_text = st.text(max_size=300) | huge_text


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            out.append(prefix + (key,))
            out += _paths(value, prefix + (key,))
    return out


@st.composite
def mutated(draw, base: dict) -> dict:
    """`base` with some fields dropped, some replaced by anything, unknown ones added."""
    obj = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        paths = _paths(obj)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(["drop", "replace", "add"]))
        if op == "drop":
            del parent[path[-1]]
        elif op == "replace":
            parent[path[-1]] = draw(json_any | any_text)
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(json_any)
    return obj


@st.composite
def telegram_updates(draw) -> dict:
    user = {"id": draw(st.integers(1, 2**40)), "is_bot": draw(st.booleans()), "first_name": "A"}
    chat = {"id": draw(st.integers(-(2**45), 2**40)),
            "type": draw(st.sampled_from(["private", "group", "supergroup", "channel", "weird"]))}
    message = {"message_id": draw(st.integers(1, 2**31)), "date": draw(st.integers(0, 2**33)),
               "chat": chat, "from": user, "text": draw(any_text)}
    kind = draw(st.sampled_from(["message", "edited_message", "callback_query", "channel_post",
                                 "my_chat_member", "poll", "unknown_kind_xyz"]))
    if kind == "callback_query":
        body: Any = {"id": "cq1", "from": user, "chat_instance": "x",
                     "data": draw(st.text(max_size=80)), "message": message}
    elif kind in ("message", "edited_message", "channel_post"):
        body = message
    else:
        body = draw(json_any)
    return draw(mutated({"update_id": draw(st.integers(0, 2**40)), kind: body}))


@st.composite
def zalo_updates(draw) -> dict:
    event = draw(st.sampled_from([
        "message.text.received", "message.image.received", "message.sticker.received",
        "message.unsupported.received", "message.x.y", "user.follow", "",
    ]) | st.text(max_size=30))
    chat_id = draw(st.text(min_size=1, max_size=30) | st.integers())
    message = {
        "message_id": draw(st.text(max_size=40) | st.integers()),
        "date": draw(st.integers(-(2**63), 2**63) | st.text(max_size=12)),
        "chat": {"id": chat_id, "chat_type": draw(st.sampled_from(["PRIVATE", "GROUP", "odd"]))},
        "from": {"id": chat_id, "display_name": draw(st.text(max_size=20)), "is_bot": False},
        "text": draw(any_text),
    }
    bare = draw(mutated({"event_name": event, "message": message}))
    if draw(st.booleans()):
        return {"ok": draw(st.sampled_from([True, False, None])), "result": bare}
    return bare


FUZZ = settings(
    max_examples=200, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)

# ------------------------------------------------------------- translation only


class RecordingCore:
    def __init__(self) -> None:
        self.seen: list[Inbound] = []

    async def handle(self, inbound: Inbound) -> bool:
        assert isinstance(inbound.chat_id, str) and inbound.chat_id
        assert isinstance(inbound.user_id, str) and inbound.user_id
        assert inbound.text is None or isinstance(inbound.text, str)
        assert inbound.update_id is None or isinstance(inbound.update_id, str)
        self.seen.append(inbound)
        return True


class StubApp:
    def __init__(self) -> None:
        self.core = RecordingCore()


@pytest.fixture(scope="module")
def fake_apis():
    with FakeTelegramAPI(token="555:fuzz-token-abcdef", deliver_webhooks=False) as tg, \
            FakeZaloAPI() as zalo:
        yield tg, zalo


def _run(loop: asyncio.AbstractEventLoop, coro):
    return loop.run_until_complete(coro)


def _fuzz_translation(channel, updates) -> None:
    """Feed generated payloads to one adapter: each is translated or refused with
    ValueError (the webhook answers 400), nothing else escapes."""
    loop = asyncio.new_event_loop()
    stub = StubApp()
    _run(loop, channel.start(stub))
    outcomes = {"ok": 0, "refused": 0}
    try:
        @FUZZ
        @given(payload=updates)
        def check(payload: dict) -> None:
            try:
                _run(loop, channel.process_webhook(payload))
                outcomes["ok"] += 1
            except ValueError:
                outcomes["refused"] += 1

        check()
    finally:
        _run(loop, channel.stop())
        loop.close()
    assert outcomes["ok"] > 0 and outcomes["refused"] > 0  # both paths were exercised
    assert stub.core.seen  # some updates really were translated


def test_telegram_translation_never_raises_anything_but_valueerror(fake_apis) -> None:
    tg, _ = fake_apis
    _fuzz_translation(
        TelegramChannel(tg.token, base_url=tg.base_url,
                        webhook=WebhookConfig("127.0.0.1", 1, "telegram", "", HOOK_SECRET)),
        telegram_updates(),
    )


def test_zalo_translation_never_raises_anything_but_valueerror(fake_apis) -> None:
    _, zalo = fake_apis
    _fuzz_translation(
        ZaloChannel(zalo.token, base_url=zalo.base_url,
                    webhook=ZaloWebhookConfig(url=None, secret_token=HOOK_SECRET)),
        zalo_updates(),
    )


# ------------------------------------------------------------- webhook endpoints


@pytest.mark.slow
def test_webhook_endpoints_answer_200_or_400_never_500(fake_apis, tmp_path: Path) -> None:
    tg, zalo = fake_apis
    loop = asyncio.new_event_loop()
    cfg = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}",
        secret_key=SecretStr("fuzz-secret-key-0123456789abcdef"),
        webhook_secret=SecretStr(HOOK_SECRET), _env_file=None,
    )
    app = _run(loop, build_app(cfg))
    channels = [
        TelegramChannel(tg.token, base_url=tg.base_url,
                        webhook=WebhookConfig("127.0.0.1", 1, "telegram", "", HOOK_SECRET)),
        ZaloChannel(zalo.token, base_url=zalo.base_url,
                    webhook=ZaloWebhookConfig(url=None, secret_token=HOOK_SECRET)),
    ]
    for channel in channels:
        _run(loop, channel.start(app))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_web_app(app, channels)),
                             base_url="http://bvte")
    statuses: dict[int, int] = {}
    try:
        @settings(FUZZ, max_examples=100)
        @given(tg_payload=telegram_updates(), zalo_payload=zalo_updates(),
               raw=st.binary(max_size=200) | st.just(b"{") | st.just(b"null"))
        def check(tg_payload: dict, zalo_payload: dict, raw: bytes) -> None:
            for path, header, body in (("/telegram", TG_HEADER, tg_payload),
                                       ("/zalo", ZALO_HEADER, zalo_payload)):
                try:
                    r = _run(loop, http.post(path, json=body, headers=header))
                except ValueError:  # NaN/inf cannot even be sent as JSON: nothing to test
                    continue
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                # 413: over bot.web.MAX_BODY (a huge text times a huge key) - also a refusal.
                assert r.status_code in (200, 400, 413), (path, r.status_code, r.text[:200])
                r = _run(loop, http.post(path, content=raw, headers=header))
                assert r.status_code in (200, 400), (path, raw, r.status_code)

        check()
    finally:
        _run(loop, http.aclose())
        for channel in channels:
            _run(loop, channel.stop())
        _run(loop, app.close())
        loop.close()
    assert statuses.get(200, 0) > 0 and statuses.get(400, 0) > 0
