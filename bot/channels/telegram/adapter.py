"""Telegram adapter: PTB updates -> `Inbound`, `Outbound` -> PTB calls.

Only translation lives here; every decision is the core's."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import Update
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.channels.telegram.render import keyboard, split_text
from handlers.messages import DeliveryError, Inbound, Outbound, SendResult

if TYPE_CHECKING:
    from bot.app import App

__all__ = ["TelegramChannel", "WebhookConfig", "to_inbound"]

log = logging.getLogger("bvte.telegram")

# At DEBUG, PTB logs every update ("Processing update Update(message=...)") and every
# API call's parameters in full: report text and phone numbers must never reach the
# logs, whatever BVTE_LOG_LEVEL says. Our own bvte.telegram logger stays as set.
logging.getLogger("telegram").setLevel(logging.INFO)

NAME = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


@dataclass(frozen=True)
class WebhookConfig:
    listen: str
    port: int
    url_path: str
    webhook_url: str
    secret_token: str


def _kind(message) -> str:
    if message.text is not None:
        return "text"
    if message.sticker is not None:
        return "sticker"
    if message.photo or message.video or message.animation:
        return "photo"
    if message.voice is not None or message.audio is not None or message.video_note is not None:
        return "voice"
    if message.document is not None:
        return "file"
    return "unsupported"


def to_inbound(update: Update) -> Inbound | None:
    """Translate one update; None for kinds the bot does not take (channel posts...)."""
    update_id = str(update.update_id)
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        if message is None or query.from_user is None:
            return None
        chat = message.chat
        return Inbound(
            channel=NAME, chat_id=str(chat.id), user_id=str(query.from_user.id),
            button=query.data or "", kind="button",
            chat_type="private" if chat.type == "private" else "group",
            message_id=str(message.message_id), update_id=update_id,
            display_name=query.from_user.first_name,
        )
    edited = update.edited_message is not None
    message = update.message or update.edited_message
    if message is None or message.from_user is None:
        return None
    chat = message.chat
    if chat.type not in ("private", "group", "supergroup"):
        return None
    return Inbound(
        channel=NAME, chat_id=str(chat.id), user_id=str(message.from_user.id),
        text=message.text, kind="edited" if edited else _kind(message),
        chat_type="private" if chat.type == "private" else "group",
        message_id=str(message.message_id), update_id=update_id, at=message.date,
        display_name=message.from_user.first_name,
    )


def _poll_failed(exc: TelegramError) -> None:
    # One line instead of PTB's traceback per failed getUpdates; PTB backs off itself.
    log.warning("telegram poll failed (%s); retrying", type(exc).__name__)


def _chat_id(chat_id: str) -> int | str:
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


class TelegramChannel:
    name = NAME
    webhook_secret_header = "X-Telegram-Bot-Api-Secret-Token"

    def __init__(self, token: str, *, base_url: str | None = None, webhook: WebhookConfig | None = None) -> None:
        self._token = token
        self._base_url = base_url
        self._webhook = webhook
        self._app: App | None = None
        self.ptb: Application | None = None

    def build(self) -> Application:
        builder = ApplicationBuilder().token(self._token).rate_limiter(AIORateLimiter(max_retries=0))
        if self._base_url:
            builder = builder.base_url(self._base_url)
        ptb = builder.build()
        ptb.add_handler(TypeHandler(Update, self._on_update))
        ptb.add_error_handler(self._on_error)
        return ptb

    async def start(self, app: App) -> None:
        self._app = app
        self.ptb = self.build()
        await self.ptb.initialize()
        await self.ptb.start()
        updater = self.ptb.updater
        assert updater is not None
        if self._webhook is not None:
            # Webhook mode: bot.web serves POST /telegram next to the other channels on
            # one port (PTB's own server would collide with it); we only register the URL.
            w = self._webhook
            if w.webhook_url:
                await self.ptb.bot.set_webhook(
                    url=w.webhook_url, secret_token=w.secret_token or None,
                    allowed_updates=ALLOWED_UPDATES,
                )
            else:
                log.warning("telegram webhook mode without BVTE_WEBHOOK_URL: setWebhook not called")
        else:
            await updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, timeout=10, error_callback=_poll_failed
            )
        log.info("telegram channel started (%s)", "webhook" if self._webhook else "polling")

    async def stop(self) -> None:
        ptb = self.ptb
        if ptb is None:
            return
        if ptb.updater is not None and ptb.updater.running:
            await ptb.updater.stop()
        if ptb.running:
            await ptb.stop()
        await ptb.shutdown()

    @property
    def webhook_ready(self) -> bool:
        return self._app is not None and self.ptb is not None and self.ptb.running

    async def process_webhook(self, payload: object) -> None:
        """One webhook body from bot.web (secret already checked). ValueError when malformed.

        Runs the update through PTB's handlers, i.e. `_on_update` -> `Core.handle`,
        which commits the update id and the replies before this returns.
        """
        if self.ptb is None or not isinstance(payload, dict):
            raise ValueError("not a Telegram update")
        try:
            update = Update.de_json(payload, self.ptb.bot)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError):
            raise ValueError("malformed Telegram update") from None
        if update is None:
            raise ValueError("malformed Telegram update")
        # Not through PTB's process_update: it hands handler errors to the error
        # handler and returns, so a failed commit would be acknowledged and lost.
        # Here a core failure propagates and the webhook answers non-2xx (redelivery).
        await self._handle(update)

    async def _on_update(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update):
            await self._handle(update)

    async def _handle(self, update: Update) -> None:
        if self._app is None:
            return
        try:
            inbound = to_inbound(update)
        except (AttributeError, TypeError, ValueError):  # a field of an unexpected type
            raise ValueError("malformed Telegram update") from None
        if update.callback_query is not None:
            try:
                await update.callback_query.answer()
            except TelegramError as exc:  # a stale query must not stop the press
                log.info("callback answer failed: %s", type(exc).__name__)
        if inbound is not None:
            await self._app.core.handle(inbound)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        err = context.error
        log.error("telegram update failed: %s", type(err).__name__ if err else "unknown")

    async def send(self, out: Outbound) -> SendResult:
        if self.ptb is None:
            raise DeliveryError("telegram channel not started")
        chunks = split_text(out.text) or ["…"]
        last = None
        try:
            for i, chunk in enumerate(chunks):
                markup = keyboard(out.buttons) if i == len(chunks) - 1 else None
                last = await self.ptb.bot.send_message(
                    chat_id=_chat_id(out.chat_id), text=chunk, reply_markup=markup
                )
        except RetryAfter as exc:
            seconds = exc.retry_after
            seconds = seconds.total_seconds() if hasattr(seconds, "total_seconds") else float(seconds)
            raise DeliveryError("rate limited", retry_after=seconds) from None
        except Forbidden:
            raise DeliveryError("blocked by the user", permanent=True, blocked=True) from None
        except InvalidToken:
            raise DeliveryError("invalid token") from None
        except BadRequest as exc:
            raise DeliveryError(f"bad request: {exc.message[:100]}", permanent=True) from None
        except NetworkError as exc:  # includes TimedOut
            raise DeliveryError(f"network: {type(exc).__name__}") from None
        return SendResult(platform_message_id=str(last.message_id) if last else None)
