"""Zalo Bot Platform channel: HTTP client, payload models, text rendering."""

from bot.channels.zalo.client import DEFAULT_BASE_URL, DEFAULT_POLL_TIMEOUT, Bot
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
from bot.channels.zalo.models import Chat, Message, Update, User, Webhook, parse_update
from bot.channels.zalo.render import (
    MAX_TEXT_LENGTH,
    render_text_with_buttons,
    reply_hint,
    split_message,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_POLL_TIMEOUT",
    "MAX_TEXT_LENGTH",
    "BadRequest",
    "Bot",
    "Chat",
    "Conflict",
    "Forbidden",
    "InvalidToken",
    "Message",
    "NetworkError",
    "RetryAfter",
    "TimedOut",
    "Update",
    "User",
    "Webhook",
    "ZaloError",
    "parse_update",
    "render_text_with_buttons",
    "reply_hint",
    "split_message",
]
