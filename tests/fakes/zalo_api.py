"""A fake Zalo Bot API server for tests (127.0.0.1, random port).

    with FakeZaloAPI() as api:
        bot = Bot(api.token, api.base_url)
        api.push_event("message.text.received", text="/start", chat_id="c1")
        ...
        api.wait_for_sent(1)

Behaviour follows the protocol notes (shared/protocols/zalo-bot-api.md):
`{ok, result | error_code, description}` envelopes, getUpdates returns ONE
event per call or, after holding, HTTP 408 "Request timeout"; sends are
recorded. Faults are queued per method and consumed by the next calls, in
the order they were added (`fail_next`, `delay_next`, `rate_limit`).

The server runs in its own thread, so blocking helpers (`wait_for_sent`,
`post_webhook`) must not be called from the event loop that serves the bot:
use `asyncio.to_thread(...)` or the async variants (`await_sent`,
`apost_webhook`).
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.server import ServerThread

__all__ = ["DEFAULT_CHAT_ID", "DEFAULT_TOKEN", "FakeZaloAPI", "make_event"]

DEFAULT_TOKEN = "1234567890123456789:fAkE-zalo-secret-0123456789abcdef"
DEFAULT_CHAT_ID = "0f1e2d3c4b5a69788796"
MAX_TEXT = 2000
SEND_METHODS = ("sendMessage", "sendPhoto", "sendSticker", "sendChatAction")


def _now_ms() -> int:
    return int(time.time() * 1000)


def make_event(
    event_name: str = "message.text.received",
    *,
    text: str | None = None,
    chat_id: str = DEFAULT_CHAT_ID,
    user_id: str | None = None,
    message_id: str | None = None,
    display_name: str = "Người dùng thử",
    chat_type: str = "PRIVATE",
    date: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A bare `{event_name, message}` event as Zalo sends it.

    `extra` goes into `message` (e.g. `photo=`, `caption=`, `sticker=`, `url=`).
    `user_id` defaults to `chat_id` (a private chat).
    """
    message: dict[str, Any] = {
        "message_id": message_id or secrets.token_hex(10),
        "date": _now_ms() if date is None else date,
        "chat": {"id": chat_id, "chat_type": chat_type},
        "from": {"id": user_id or chat_id, "display_name": display_name, "is_bot": False},
    }
    if text is not None:
        message["text"] = text
    message.update(extra)
    return {"event_name": event_name, "message": message}


@dataclass
class _Fault:
    kind: str  # "fail" | "delay"
    status: int = 500
    body: dict[str, Any] | None = None
    http_200: bool = False
    seconds: float = 0.0


def _error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


class FakeZaloAPI:
    """Fake Zalo Bot API. `base_url` is what `Bot(token, base_url)` needs.

    `errors_as_http_200=True` answers every error envelope with HTTP 200 (the
    body still says `ok: false`), as some clients report seeing in the field.
    `require_https` makes setWebhook reject non-https URLs.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        max_hold: float = 0.5,
        errors_as_http_200: bool = False,
        require_https: bool = False,
        bot_id: str = "7012345678901234567",
        account_name: str = "bot.bvte",
    ) -> None:
        self.token = token
        self.max_hold = max_hold
        self.errors_as_http_200 = errors_as_http_200
        self.require_https = require_https
        self.me = {
            "id": bot_id,
            "account_name": account_name,
            "account_type": "BASIC",
            "can_join_groups": False,
        }
        self.webhook: dict[str, Any] | None = None  # {url, secret_token, updated_at}
        self.sent: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []  # every request: method, params, status
        self._events: deque[dict[str, Any]] = deque()
        self._faults: dict[str, deque[_Fault]] = {}
        self._lock = threading.Lock()
        self._sent_changed = threading.Condition(self._lock)
        self.app = Starlette(
            routes=[Route("/bot{token}/{method}", self._handle, methods=["GET", "POST"])]
        )
        self._server = ServerThread(self.app)
        self.url = self._server.url
        self.base_url = self._server.url  # the client appends /bot{token}/{method}

    # --------------------------------------------------------------- lifecycle

    def start(self) -> FakeZaloAPI:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeZaloAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ test control

    def push_event(
        self,
        event_name: str = "message.text.received",
        *,
        text: str | None = None,
        chat_id: str = DEFAULT_CHAT_ID,
        user_id: str | None = None,
        message_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Queue an event for getUpdates; returns the `{event_name, message}` queued."""
        event = make_event(
            event_name,
            text=text,
            chat_id=chat_id,
            user_id=user_id,
            message_id=message_id,
            **extra,
        )
        with self._lock:
            self._events.append(event)
        return copy.deepcopy(event)

    @property
    def pending_events(self) -> int:
        with self._lock:
            return len(self._events)

    def fail_next(
        self,
        method: str,
        status: int = 500,
        count: int = 1,
        body: dict[str, Any] | None = None,
        *,
        http_200: bool = False,
    ) -> None:
        """The next `count` calls of `method` fail with `status` (and `body`).

        `http_200=True` sends the error body with HTTP 200.
        """
        body = body or _error(status, "Internal Server Error" if status >= 500 else "Error")
        self._add_faults(method, count, _Fault("fail", status=status, body=body, http_200=http_200))

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """The next `count` calls of `method` wait `seconds`, then succeed."""
        self._add_faults(method, count, _Fault("delay", seconds=seconds))

    def rate_limit(
        self,
        method: str,
        count: int,
        *,
        retry_after: float | None = None,
        http_200: bool = False,
    ) -> None:
        """The next `count` calls of `method` get 429 "Quota exceeded".

        `retry_after` adds `parameters.retry_after` (Zalo documents none).
        """
        body = _error(429, "Quota exceeded")
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        self._add_faults(method, count, _Fault("fail", status=429, body=body, http_200=http_200))

    def _add_faults(self, method: str, count: int, fault: _Fault) -> None:
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend(copy.deepcopy(fault) for _ in range(count))

    def sent_of(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for item in self.sent if item["method"] == method]

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for item in self.calls if item["method"] == method]

    def wait_for_sent(
        self, n: int, timeout: float = 5.0, *, method: str | None = None
    ) -> list[dict[str, Any]]:
        """Block until at least `n` sends (of `method`, if given) are recorded.

        Returns those records; raises TimeoutError if they do not arrive.
        """

        def matching() -> list[dict[str, Any]]:
            return [dict(s) for s in self.sent if method is None or s["method"] == method]

        with self._sent_changed:
            if not self._sent_changed.wait_for(lambda: len(matching()) >= n, timeout=timeout):
                got = len(matching())
                raise TimeoutError(f"expected {n} sent {method or 'calls'}, got {got}")
            return matching()

    async def await_sent(
        self,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors wait_for_sent
        *,
        method: str | None = None,
    ) -> list[dict[str, Any]]:
        """`wait_for_sent` for async tests (runs it in a worker thread)."""
        return await asyncio.to_thread(self.wait_for_sent, n, timeout, method=method)

    @staticmethod
    def _webhook_request(
        payload: dict[str, Any], secret: str | None, wrapped: bool
    ) -> tuple[dict[str, Any], dict[str, str]]:
        if wrapped and "result" not in payload:
            payload = {"ok": True, "result": payload}
        headers = {} if secret is None else {"X-Bot-Api-Secret-Token": secret}
        return payload, headers

    def post_webhook(
        self,
        url: str,
        payload: dict[str, Any],
        secret: str | None = None,
        wrapped: bool = True,
    ) -> int:
        """POST an event to a bot's webhook as Zalo would; returns the HTTP status.

        `payload` is a bare event (`make_event(...)`); `wrapped=True` sends it as
        `{ok: true, result: event}`. `secret` goes in X-Bot-Api-Secret-Token
        (no header when None). Blocking: see the module docstring.
        """
        body, headers = self._webhook_request(payload, secret, wrapped)
        with httpx.Client(timeout=10.0) as client:
            return client.post(url, json=body, headers=headers).status_code

    async def apost_webhook(
        self,
        url: str,
        payload: dict[str, Any],
        secret: str | None = None,
        wrapped: bool = True,
    ) -> int:
        body, headers = self._webhook_request(payload, secret, wrapped)
        async with httpx.AsyncClient(timeout=10.0) as client:
            return (await client.post(url, json=body, headers=headers)).status_code

    # ------------------------------------------------------------------ server

    def _reply(self, method: str, params: dict[str, Any], status: int, body: dict) -> JSONResponse:
        with self._lock:
            self.calls.append({"method": method, "params": params, "status": status})
        if not body.get("ok") and self.errors_as_http_200:
            status = 200
        return JSONResponse(body, status_code=status)

    def _fail(self, method: str, params: dict[str, Any], code: int, description: str):
        return self._reply(method, params, code, _error(code, description))

    def _ok(self, method: str, params: dict[str, Any], result: Any = None) -> JSONResponse:
        body: dict[str, Any] = {"ok": True}
        if result is not None:
            body["result"] = result
        return self._reply(method, params, 200, body)

    async def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("application/json"):
                data = await request.json()
                if isinstance(data, dict):
                    params.update(data)
            elif content_type.startswith("application/x-www-form-urlencoded"):
                # Parsed by hand: Starlette's request.form() needs python-multipart.
                body = (await request.body()).decode("utf-8")
                params.update(parse_qsl(body, keep_blank_values=True))
        return params

    async def _handle(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        params = await self._params(request)
        if request.path_params["token"] != self.token:
            return self._fail(method, params, 401, "Unauthorized")

        with self._lock:
            queue = self._faults.get(method)
            fault = queue.popleft() if queue else None
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        elif fault is not None:
            body = copy.deepcopy(fault.body or _error(fault.status, "Error"))
            status = 200 if fault.http_200 or self.errors_as_http_200 else fault.status
            with self._lock:
                self.calls.append({"method": method, "params": params, "status": status})
            return JSONResponse(body, status_code=status)

        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._fail(method, params, 400, "Bad Request: invalid API name")
        return await handler(method, params)

    async def _m_getMe(self, method: str, params: dict[str, Any]) -> JSONResponse:
        return self._ok(method, params, dict(self.me))

    async def _m_getUpdates(self, method: str, params: dict[str, Any]) -> JSONResponse:
        try:
            wanted = float(params.get("timeout", 30))
        except (TypeError, ValueError):
            return self._fail(method, params, 400, "Bad Request: invalid timeout")
        deadline = time.monotonic() + max(0.0, min(wanted, self.max_hold))
        while True:
            with self._lock:
                event = self._events.popleft() if self._events else None
            if event is not None:
                return self._ok(method, params, event)
            if time.monotonic() >= deadline:
                return self._fail(method, params, 408, "Request timeout")
            await asyncio.sleep(0.01)

    def _record_send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        result = {"message_id": secrets.token_hex(10), "date": _now_ms()}
        record = {"method": method, **params}
        if method != "sendChatAction":
            record["message_id"] = result["message_id"]
        with self._sent_changed:
            self.sent.append(record)
            self._sent_changed.notify_all()
        return result

    @staticmethod
    def _bad_length(value: Any) -> bool:
        return not isinstance(value, str) or not (1 <= len(value) <= MAX_TEXT)

    async def _m_sendMessage(self, method: str, params: dict[str, Any]) -> JSONResponse:
        if not params.get("chat_id"):
            return self._fail(method, params, 400, "Bad Request: chat_id is required")
        if self._bad_length(params.get("text")):
            return self._fail(method, params, 400, "Bad Request: text must be 1-2000 characters")
        return self._ok(method, params, self._record_send(method, params))

    async def _m_sendPhoto(self, method: str, params: dict[str, Any]) -> JSONResponse:
        if not params.get("chat_id") or not params.get("photo"):
            return self._fail(method, params, 400, "Bad Request: chat_id and photo are required")
        if "caption" in params and self._bad_length(params["caption"]):
            return self._fail(method, params, 400, "Bad Request: caption must be 1-2000 characters")
        return self._ok(method, params, self._record_send(method, params))

    async def _m_sendSticker(self, method: str, params: dict[str, Any]) -> JSONResponse:
        if not params.get("chat_id") or not params.get("sticker"):
            return self._fail(method, params, 400, "Bad Request: chat_id and sticker are required")
        return self._ok(method, params, self._record_send(method, params))

    async def _m_sendChatAction(self, method: str, params: dict[str, Any]) -> JSONResponse:
        if not params.get("chat_id") or params.get("action") not in ("typing", "upload_photo"):
            return self._fail(method, params, 400, "Bad Request: invalid chat_id or action")
        self._record_send(method, params)
        return self._ok(method, params)

    async def _m_setWebhook(self, method: str, params: dict[str, Any]) -> JSONResponse:
        url, secret = params.get("url"), params.get("secret_token")
        if not url or not isinstance(secret, str) or not (8 <= len(secret) <= 256):
            return self._fail(method, params, 400, "Bad Request: url and secret_token required")
        if self.require_https and not str(url).startswith("https://"):
            return self._fail(method, params, 400, "Bad Request: webhook url must be https")
        with self._lock:
            self.webhook = {"url": url, "secret_token": secret, "updated_at": _now_ms()}
            result = {"url": url, "updated_at": self.webhook["updated_at"]}
        return self._ok(method, params, result)

    async def _m_deleteWebhook(self, method: str, params: dict[str, Any]) -> JSONResponse:
        with self._lock:
            self.webhook = None
        return self._ok(method, params, {"url": "", "updated_at": _now_ms()})

    async def _m_getWebhookInfo(self, method: str, params: dict[str, Any]) -> JSONResponse:
        with self._lock:
            hook = dict(self.webhook) if self.webhook else None
        if hook is None:
            return self._fail(method, params, 404, "Not Found")
        return self._ok(method, params, {"url": hook["url"], "updated_at": hook["updated_at"]})
