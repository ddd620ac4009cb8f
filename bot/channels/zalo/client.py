"""Async HTTP client for the Zalo Bot Platform API.

`Bot` keeps python-zalo-bot's public names and argument order (see the
protocol notes, section 8) but is built on httpx and differs in a few places:

* every method is `async`, including `set_webhook`, `delete_webhook` and
  `get_webhook_info` (the SDK wraps those in `asyncio.run`, which fails inside a
  running loop);
* success means the body's `ok` is true, whatever the HTTP status (the SDK
  silently returns None for `200 {"ok": false}`);
* an idle long poll (HTTP or API 408) makes `get_update` return None instead of
  raising;
* transport errors, timeouts, 5xx and 429 are retried with capped exponential
  back-off and jitter (honouring `retry_after` when the API sends one; a
  `retry_after` above `backoff_max` is raised at once as `RetryAfter`).
  Retrying a send that timed out after reaching Zalo can deliver it twice; use
  `max_retries=0` where that matters more than delivery;
* `get_webhook_info` returns None when no webhook is set (Zalo answers 404).

The token is part of every URL, so URLs are never logged and the token is
replaced by `<token>` in every exception message. A filter on the `httpx`
logger redacts it from httpx's own request log lines too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from bot.channels.zalo.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
    ZaloError,
)
from bot.channels.zalo.models import Chat, Message, Update, User, Webhook

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_POLL_TIMEOUT", "Bot"]

DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"
# Zalo's documented default for getUpdates when no timeout is sent.
DEFAULT_POLL_TIMEOUT = 30.0

logger = logging.getLogger(__name__)

_REDACTED = "<token>"
# Every token any Bot has seen; the httpx log filter redacts all of them.
_known_tokens: set[str] = set()


def _token_variants(token: str) -> list[str]:
    variants = [token, quote(token, safe="")]
    _, _, secret = token.partition(":")
    if len(secret) >= 8:
        variants.append(secret)
    return variants


def _scrub_known(text: str) -> str:
    for token in sorted(_known_tokens, key=len, reverse=True):
        for variant in _token_variants(token):
            text = text.replace(variant, _REDACTED)
    return text


class _RedactTokenFilter(logging.Filter):
    """Rewrites httpx log records ("HTTP Request: POST <url> ...") without the token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _known_tokens:
            try:
                message = record.getMessage()
            except Exception:  # a malformed record is not ours to fix
                return True
            scrubbed = _scrub_known(message)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        return True


_redact_filter = _RedactTokenFilter()


def _install_log_filter() -> None:
    # Only httpx logs URLs (httpcore's trace lines carry no path). Logger filters
    # do not apply to child loggers, so this targets "httpx" itself.
    target = logging.getLogger("httpx")
    if _redact_filter not in target.filters:
        target.addFilter(_redact_filter)


def _coerce_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _coerce_seconds(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def _encode_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _encode(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Form fields with None dropped; None (empty body) when nothing is left."""
    if not params:
        return None
    data = {key: _encode_value(value) for key, value in params.items() if value is not None}
    return data or None


_IDLE = object()  # getUpdates answered 408: no event this time


class Bot:
    """Zalo Bot API client (python-zalo-bot compatible surface, async throughout).

    `sleep` is the back-off sleep, injectable so tests do not wait; `backoff_base`
    and `backoff_max` (seconds) shape the exponential back-off, `jitter` adds up to
    that fraction of the delay at random. Pass `http_client` to share a pool; it is
    then not closed by `shutdown()`.
    """

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 5.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        jitter: float = 0.25,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not isinstance(token, str) or not token.strip() or any(c in token for c in "/ \t\r\n"):
            raise ValueError("invalid Zalo bot token (expected '<digits>:<secret>')")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._token = token
        self._base_url = base_url.rstrip("/")
        self._timeout = float(timeout)
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._jitter = jitter
        self._sleep = sleep
        self._client = http_client
        self._owns_client = http_client is None
        self._me: User | None = None
        _known_tokens.add(token)
        _install_log_filter()

    def __repr__(self) -> str:  # never show the token
        return f"Bot(base_url={self._base_url!r})"

    # ----------------------------------------------------------------- lifecycle

    @property
    def token(self) -> str:
        return self._token

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def me(self) -> User | None:
        """The getMe result cached by `initialize()`, or None before it."""
        return self._me

    async def initialize(self) -> None:
        """Check the token with getMe and cache the result (idempotent)."""
        if self._me is None:
            self._me = await self.get_me()

    async def shutdown(self) -> None:
        """Close the HTTP client if this Bot created it."""
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> Bot:
        try:
            await self.initialize()
        except BaseException:
            await self.shutdown()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    # ------------------------------------------------------------------ methods

    async def get_me(self) -> User:
        return User.model_validate(await self._call("getMe"))

    async def get_update(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - Zalo's poll hold, SDK name
        offset: int | None = None,
        limit: int | None = None,
        allowed_updates: list[str] | None = None,
    ) -> Update | None:
        """Long-poll for ONE event; None when the poll ends idle (408).

        `offset`, `limit` and `allowed_updates` are Telegram leftovers kept for
        SDK compatibility; Zalo documents none of them (they are sent only when
        given). `timeout` is the server-side hold in seconds.
        """
        hold = DEFAULT_POLL_TIMEOUT if timeout is None else float(timeout)
        result = await self._call(
            "getUpdates",
            {
                "timeout": timeout,
                "offset": offset,
                "limit": limit,
                "allowed_updates": allowed_updates,
            },
            extra_read_timeout=hold,
        )
        if result is _IDLE or not result:
            return None
        return Update.model_validate(result)

    get_updates = get_update  # plural alias for Telegram habits

    async def send_message(
        self, chat_id: str, text: str, *, reply_to_message_id: str | None = None
    ) -> Message:
        result = await self._call(
            "sendMessage",
            {"chat_id": chat_id, "text": text, "reply_to_message_id": reply_to_message_id},
        )
        return self._sent_message(result, chat_id, text=text)

    async def send_photo(
        self,
        chat_id: str,
        caption: str | None,
        photo: str,
        *,
        reply_to_message_id: str | None = None,
    ) -> Message:
        """Send an image by URL. Caption comes BEFORE photo, as in the SDK."""
        result = await self._call(
            "sendPhoto",
            {
                "chat_id": chat_id,
                "photo": photo,
                "caption": caption or None,
                "reply_to_message_id": reply_to_message_id,
            },
        )
        return self._sent_message(result, chat_id, photo=photo, caption=caption or None)

    async def send_sticker(
        self, chat_id: str, sticker: str, *, reply_to_message_id: str | None = None
    ) -> Message:
        result = await self._call(
            "sendSticker",
            {"chat_id": chat_id, "sticker": sticker, "reply_to_message_id": reply_to_message_id},
        )
        return self._sent_message(result, chat_id, sticker=sticker)

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> bool:
        """Show e.g. "typing". Returns True (the SDK returns None)."""
        await self._call("sendChatAction", {"chat_id": chat_id, "action": action})
        return True

    async def set_webhook(self, url: str, secret_token: str) -> Webhook:
        result = await self._call("setWebhook", {"url": url, "secret_token": secret_token})
        return Webhook.model_validate(result or {"url": url})

    async def delete_webhook(self) -> Webhook:
        return Webhook.model_validate(await self._call("deleteWebhook") or {})

    async def get_webhook_info(self) -> Webhook | None:
        """The current webhook, or None when none is set (Zalo answers 404)."""
        try:
            result = await self._call("getWebhookInfo")
        except InvalidToken as exc:
            if exc.error_code == 404:
                return None
            raise
        return Webhook.model_validate(result or {})

    # ----------------------------------------------------------------- plumbing

    def _scrub(self, text: str) -> str:
        for variant in _token_variants(self._token):
            text = text.replace(variant, _REDACTED)
        return _scrub_known(text)

    @staticmethod
    def _sent_message(result: Any, chat_id: str, **fields: Any) -> Message:
        # Zalo returns only {message_id, date}; fill in what we sent, like the SDK.
        data: dict[str, Any] = {name: value for name, value in fields.items() if value is not None}
        data["chat"] = Chat(id=str(chat_id))
        if isinstance(result, dict):
            data.update(result)
        return Message.model_validate(data)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
            self._owns_client = True
        return self._client

    async def _call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        extra_read_timeout: float = 0.0,
    ) -> Any:
        """POST with retries; returns `result` (or `_IDLE` for an idle getUpdates)."""
        data = _encode(params)
        attempt = 0
        while True:
            try:
                return await self._post_once(method, data, extra_read_timeout)
            except ZaloError as exc:
                if attempt >= self._max_retries or not self._retriable(exc):
                    raise
                delay = self._backoff(attempt, exc)
                attempt += 1
                logger.warning(
                    "Zalo %s failed (%s: %s); retry %d/%d in %.2fs",
                    method,
                    type(exc).__name__,
                    exc.message,
                    attempt,
                    self._max_retries,
                    delay,
                )
                await self._sleep(delay)

    def _retriable(self, exc: ZaloError) -> bool:
        if isinstance(exc, RetryAfter):
            # A wait longer than the back-off cap is the caller's call, not a stall here.
            return exc.retry_after is None or exc.retry_after <= self._backoff_max
        if isinstance(exc, TimedOut):
            return True
        if isinstance(exc, NetworkError):
            if exc.http_status is None:  # transport failure, nothing answered
                return True
            return (exc.error_code or exc.http_status) >= 500
        return False

    def _backoff(self, attempt: int, exc: ZaloError) -> float:
        if isinstance(exc, RetryAfter) and exc.retry_after is not None:
            return exc.retry_after
        delay = min(self._backoff_max, self._backoff_base * (2**attempt))
        delay += delay * self._jitter * random.random()
        return min(self._backoff_max, delay)

    async def _post_once(self, method: str, data: dict[str, str] | None, extra: float) -> Any:
        url = f"{self._base_url}/bot{self._token}/{method}"
        timeout = httpx.Timeout(self._timeout, read=self._timeout + extra)
        try:
            response = await self._http().post(url, data=data, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise TimedOut(
                f"{method}: request timed out ({type(exc).__name__})", method=method
            ) from None
        except httpx.HTTPError as exc:
            # `from None`: httpx exceptions can carry the URL, hence the token.
            detail = self._scrub(str(exc)) or type(exc).__name__
            raise NetworkError(f"{method}: {type(exc).__name__}: {detail}", method=method) from None

        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            code = status if status >= 400 else None
            error_type = TimedOut if status == 408 else NetworkError
            if method == "getUpdates" and status == 408:
                return _IDLE
            raise error_type(
                f"{method}: HTTP {status} with a non-JSON body",
                method=method,
                error_code=code,
                http_status=status,
            )
        if body.get("ok") is True:
            return body.get("result")
        return self._raise_for_body(method, status, body)

    def _raise_for_body(self, method: str, status: int, body: dict[str, Any]) -> Any:
        code = _coerce_code(body.get("error_code"))
        if code is None and status >= 400:
            code = status
        if method == "getUpdates" and (code == 408 or status == 408):
            return _IDLE
        description = self._scrub(str(body.get("description") or "")) or f"HTTP {status}"
        parameters = body.get("parameters")
        retry_after = (
            _coerce_seconds(parameters.get("retry_after")) if isinstance(parameters, dict) else None
        )
        kwargs: dict[str, Any] = {
            "method": method,
            "error_code": code,
            "http_status": status,
            "description": description,
        }
        message = f"{method}: {description}" + (f" (error_code={code})" if code else "")
        if code == 429 or retry_after is not None:
            raise RetryAfter(message, retry_after=retry_after, **kwargs)
        error_type: type[ZaloError]
        if code in (401, 404):
            error_type = InvalidToken
        elif code == 400:
            error_type = BadRequest
        elif code == 403:
            error_type = Forbidden
        elif code == 409:
            error_type = Conflict
        elif code == 408:
            error_type = TimedOut
        elif code is None:
            error_type = ZaloError  # ok:false on a 2xx with no code: not a network fault
        else:
            error_type = NetworkError
        raise error_type(message, **kwargs)
