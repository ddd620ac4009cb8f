"""Zalo adapter: Zalo events -> `Inbound`, `Outbound` -> Zalo sends.

Only translation and transport live here; every decision is the core's.

* Polling: deleteWebhook first, then ONE sequential poller per token (getUpdates
  returns at most one event; an idle poll is None). Real errors back off
  exponentially up to `POLL_BACKOFF_MAX`.
* Webhook: `bot.web` receives the POST, checks the secret and calls
  `process_webhook`; `start` registers `{webhook_url}/zalo` with setWebhook.
* Zalo has no update ids and may deliver twice: `Inbound.update_id` is the
  event's `message_id`, which the core records (and dedupes) in its transaction.
* Zalo has no buttons: `Inbound.numbered_menus` lets the core map a typed number
  or label to the last menu's button, and `send` renders buttons as a numbered
  list. Texts are split under the 2000-character limit.
* The client runs with `max_retries=0`: a send that failed is retried by the
  durable outbox, which records the outcome after each attempt, so the client's
  own retries cannot silently deliver a message twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.channels.zalo.client import DEFAULT_POLL_TIMEOUT, Bot
from bot.channels.zalo.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    ZaloError,
)
from bot.channels.zalo.models import Update, parse_update
from bot.channels.zalo.render import render_text_with_buttons, split_message
from bot.config import ConfigError
from handlers.messages import DeliveryError, Inbound, Outbound, SendResult

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import Settings

__all__ = [
    "EVENT_KINDS",
    "NAME",
    "SECRET_HEADER",
    "ZaloChannel",
    "ZaloWebhookConfig",
    "to_inbound",
    "update_key",
]

log = logging.getLogger("bvte.zalo")

NAME = "zalo"
SECRET_HEADER = "X-Bot-Api-Secret-Token"

# event_name -> Inbound.kind. The middle word decides, so "message.audio.received"
# or a future "message.file.received" still land on a sensible kind.
EVENT_KINDS: dict[str, str] = {
    "text": "text",
    "image": "photo",
    "photo": "photo",
    "video": "photo",
    "gif": "photo",
    "sticker": "sticker",
    "voice": "voice",
    "audio": "voice",
    "file": "file",
    "unsupported": "unsupported",
}

POLL_BACKOFF_BASE = 0.5
POLL_BACKOFF_MAX = 30.0
# Per-request timeout; getUpdates adds the server-side hold to the read timeout.
HTTP_TIMEOUT = 10.0
MAX_UPDATE_KEY = 128  # processed_updates.update_key

# Tokens with a running poller in this process: Zalo polling has no offset, so two
# pollers on one token would each take a share of the events.
_polling_tokens: set[str] = set()


@dataclass(frozen=True)
class ZaloWebhookConfig:
    """Webhook mode. `url` is the full public URL (`.../zalo`); None = do not register it."""

    url: str | None
    secret_token: str


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def update_key(update: Update, raw: Any = None) -> str | None:
    """The dedupe key: the event's message_id (hashed if absurdly long).

    Without a message_id, a hash of the event itself, so a redelivered identical
    event is still recognised.
    """
    message = update.message
    key = (message.message_id if message is not None else "") or ""
    if key:
        if len(key) <= MAX_UPDATE_KEY:
            return key
        return "h:" + hashlib.sha256(key.encode("utf-8")).hexdigest()
    source = raw if raw is not None else update.model_dump(mode="json", by_alias=True)
    try:
        blob = json.dumps(source, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return None
    return "h:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _kind(update: Update) -> str | None:
    """The Inbound kind, or None for events that are not user messages."""
    message = update.message
    assert message is not None
    name = (update.event_name or "").strip().lower()
    if name:
        parts = name.split(".")
        if parts[0] != "message":
            return None
        if len(parts) >= 2 and parts[1] in EVENT_KINDS:
            return EVENT_KINDS[parts[1]]
    # No or unknown event name: go by the fields present.
    if message.text is not None:
        return "text"
    if message.photo or message.photo_url:
        return "photo"
    if message.sticker:
        return "sticker"
    if message.voice_url:
        return "voice"
    return "unsupported"


def _strip_mention(text: str, bot_names: tuple[str, ...]) -> str:
    """In groups Zalo delivers only @mentions of the bot: drop a leading mention."""
    stripped = text.lstrip()
    folded = stripped.casefold()
    for name in sorted((n for n in bot_names if n), key=len, reverse=True):
        mention = "@" + name.casefold()
        if folded.startswith(mention):
            return stripped[len(mention):].lstrip(" :,")
    return text


def to_inbound(update: Update, *, bot_names: tuple[str, ...] = (), raw: Any = None) -> Inbound | None:
    """Translate one event; None for events the bot does not take (no sender, bots...)."""
    message = update.message
    if message is None:
        return None
    sender = message.from_user
    if sender is not None and sender.is_bot:
        return None
    chat_id = message.chat.id if message.chat is not None and message.chat.id else None
    user_id = sender.id if sender is not None and sender.id else None
    chat_id = chat_id or user_id
    user_id = user_id or chat_id
    if not chat_id or not user_id:
        return None
    kind = _kind(update)
    if kind is None:
        return None
    is_group = message.chat is not None and message.chat.is_group
    text: str | None
    if kind == "text":
        text = message.text or ""
        if is_group:
            text = _strip_mention(text, bot_names)
        if not text.strip():
            kind = "empty"
    else:
        text = message.caption or None  # a caption can matter to a report in progress
    return Inbound(
        channel=NAME,
        chat_id=chat_id,
        user_id=user_id,
        text=text,
        kind=kind,
        chat_type="group" if is_group else "private",
        message_id=message.message_id or None,
        update_id=update_key(update, raw),
        at=message.date,
        display_name=sender.display_name if sender is not None else None,
        numbered_menus=True,
    )


def _backoff(failures: int) -> float:
    delay = min(POLL_BACKOFF_MAX, POLL_BACKOFF_BASE * (2 ** min(failures, 16)))
    return min(POLL_BACKOFF_MAX, delay * (1 + 0.25 * random.random()))


class ZaloChannel:
    """The Zalo channel: polling or webhook in, the outbox's sender out."""

    name = NAME
    webhook_secret_header = SECRET_HEADER

    def __init__(
        self,
        token: str,
        *,
        base_url: str,
        webhook: ZaloWebhookConfig | None = None,
        poll_timeout: float = DEFAULT_POLL_TIMEOUT,
        http_timeout: float = HTTP_TIMEOUT,
        bot: Bot | None = None,
    ) -> None:
        self._token = token
        self._webhook = webhook
        self._poll_timeout = poll_timeout
        self.bot = bot or Bot(token, base_url, timeout=http_timeout, max_retries=0)
        self._app: App | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._polling = False
        # Outbox id -> chunks already delivered, so a retry after a partial send does
        # not repeat the first chunks (in memory: a crash may repeat them once).
        self._progress: dict[int, tuple[tuple[str, ...], int]] = {}

    def __repr__(self) -> str:  # never show the token
        return f"ZaloChannel(webhook={self._webhook is not None})"

    @classmethod
    def from_settings(cls, settings: Settings, *, webhook: bool) -> ZaloChannel:
        if settings.zalo_token is None:
            raise ConfigError("BVTE_ZALO_TOKEN is not set.")
        hook = None
        if webhook:
            secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
            if not 8 <= len(secret) <= 256:
                raise ConfigError(
                    "Cấu hình sai: chế độ webhook của Zalo cần BVTE_WEBHOOK_SECRET dài 8–256 ký tự. / "
                    "Configuration error: Zalo webhook mode needs BVTE_WEBHOOK_SECRET (8-256 characters)."
                )
            url = f"{settings.webhook_url.rstrip('/')}/{NAME}" if settings.webhook_url else None
            hook = ZaloWebhookConfig(url=url, secret_token=secret)
        return cls(
            settings.zalo_token.get_secret_value(), base_url=settings.zalo_base_url, webhook=hook
        )

    # ----------------------------------------------------------------- lifecycle

    @property
    def webhook_ready(self) -> bool:
        return self._app is not None and not self._stopping.is_set()

    async def start(self, app: App) -> None:
        self._stopping.clear()
        try:
            await self.bot.initialize()
        except InvalidToken:
            await self.bot.shutdown()
            raise ConfigError(
                "Zalo từ chối BVTE_ZALO_TOKEN (token sai hoặc đã bị đặt lại). / "
                "Zalo rejected BVTE_ZALO_TOKEN (wrong or reset token)."
            ) from None
        except ZaloError as exc:  # Zalo unreachable now: keep going, the loops retry
            log.warning("zalo getMe failed at start (%s); continuing", type(exc).__name__)
        if self._webhook is None:
            fingerprint = _fingerprint(self._token)
            if fingerprint in _polling_tokens:
                raise RuntimeError("a Zalo poller for this token is already running")
            _polling_tokens.add(fingerprint)
            self._polling = True
            self._app = app
            self._tasks.append(asyncio.create_task(self._poll_loop(), name="zalo-poller"))
        else:
            self._app = app
            if self._webhook.url:
                self._tasks.append(asyncio.create_task(self._register_webhook(), name="zalo-hook"))
            else:
                log.warning("zalo webhook mode without BVTE_WEBHOOK_URL: setWebhook not called")
        log.info("zalo channel started (%s)", "webhook" if self._webhook else "polling")

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._polling:
            _polling_tokens.discard(_fingerprint(self._token))
            self._polling = False
        self._app = None
        await self.bot.shutdown()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when the channel stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _retrying(self, what: str, call) -> bool:
        """Run `call` until it succeeds or the channel stops; True on success."""
        failures = 0
        while not self._stopping.is_set():
            try:
                await call()
                return True
            except ZaloError as exc:
                log.warning("zalo %s failed (%s); retrying", what, type(exc).__name__)
                await self._sleep(_backoff(failures))
                failures += 1
        return False

    async def _register_webhook(self) -> None:
        hook = self._webhook
        assert hook is not None and hook.url
        if await self._retrying("setWebhook", lambda: self.bot.set_webhook(hook.url, hook.secret_token)):
            log.info("zalo webhook registered")

    # ------------------------------------------------------------------- polling

    async def _poll_loop(self) -> None:
        # Polling and a webhook are exclusive on Zalo: clear any webhook first.
        if not await self._retrying("deleteWebhook", self.bot.delete_webhook):
            return
        failures = 0
        while not self._stopping.is_set():
            try:
                update = await self.bot.get_update(timeout=self._poll_timeout)
            except asyncio.CancelledError:
                raise
            except ZaloError as exc:
                await self._poll_failed(exc, failures)
                failures += 1
                continue
            except Exception as exc:  # a malformed event must not kill the poller
                log.error("zalo poll failed: %s", type(exc).__name__)
                await self._sleep(_backoff(failures))
                failures += 1
                continue
            failures = 0
            if update is not None:
                await self.handle_update(update)

    async def _poll_failed(self, exc: ZaloError, failures: int) -> None:
        delay = _backoff(failures)
        if isinstance(exc, RetryAfter) and exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, POLL_BACKOFF_MAX))
        if isinstance(exc, InvalidToken):
            delay = POLL_BACKOFF_MAX
            log.error("zalo rejected the token while polling; retrying in %.0fs", delay)
        else:
            log.warning("zalo poll failed (%s); retrying in %.1fs", type(exc).__name__, delay)
        if isinstance(exc, Conflict):  # a webhook was set meanwhile
            with contextlib.suppress(ZaloError):
                await self.bot.delete_webhook()
        await self._sleep(delay)

    # ------------------------------------------------------------------ inbound

    def _bot_names(self) -> tuple[str, ...]:
        me = self.bot.me
        if me is None:
            return ()
        return tuple(n for n in (me.display_name, me.account_name) if n)

    async def handle_update(self, update: Update, raw: Any = None) -> bool:
        """Hand one event to the core; False when skipped or a duplicate."""
        app = self._app
        if app is None:
            return False
        inbound = to_inbound(update, bot_names=self._bot_names(), raw=raw)
        if inbound is None:
            return False
        return await app.core.handle(inbound)

    async def process_webhook(self, payload: Any) -> None:
        """A webhook body (wrapped `{ok, result}` or bare). ValueError when malformed.

        Returns once `Core.handle` has committed the update id, the state change and
        the replies (one transaction); the replies are sent later by the outbox.
        """
        try:
            update = parse_update(payload)
        except (TypeError, OverflowError, OSError):  # e.g. an absurd epoch in `date`
            raise ValueError("malformed Zalo update") from None
        if update.message is None:
            raise ValueError("event without a message")
        inner = payload.get("result") if "result" in payload and "message" not in payload else payload
        await self.handle_update(update, raw=inner)

    # ----------------------------------------------------------------- outbound

    def _chunks(self, out: Outbound) -> tuple[str, ...]:
        text = render_text_with_buttons(out.text, [b.label for b in out.buttons])
        return tuple(split_message(text)) or ("…",)

    async def send(self, out: Outbound) -> SendResult:
        chunks = self._chunks(out)
        done_chunks, done = self._progress.get(out.id, ((), 0))
        if done_chunks != chunks:
            done = 0
        last_id: str | None = None
        try:
            for index in range(done, len(chunks)):
                message = await self.bot.send_message(out.chat_id, chunks[index])
                last_id = message.message_id or last_id
                self._progress[out.id] = (chunks, index + 1)
        except RetryAfter as exc:
            # Zalo sends no retry_after: None lets the outbox back off exponentially.
            raise DeliveryError("rate limited", retry_after=exc.retry_after) from None
        except Forbidden:
            # Zalo documents 403 vaguely ("Internal server error"), so it is not taken
            # to mean "blocked by the user" as on Telegram; the message is dropped.
            self._progress.pop(out.id, None)
            raise DeliveryError("forbidden", permanent=True) from None
        except BadRequest as exc:
            self._progress.pop(out.id, None)
            reason = (exc.description or "")[:100]
            raise DeliveryError(f"bad request: {reason}", permanent=True) from None
        except InvalidToken:
            raise DeliveryError("invalid token") from None
        except ZaloError as exc:  # NetworkError, TimedOut, 5xx, Conflict: transient
            raise DeliveryError(f"network: {type(exc).__name__}") from None
        self._progress.pop(out.id, None)
        return SendResult(platform_message_id=last_id)
