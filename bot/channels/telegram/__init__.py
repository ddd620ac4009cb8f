"""Telegram channel on python-telegram-bot's Application."""

from bot.channels.telegram.adapter import TelegramChannel, to_inbound

__all__ = ["TelegramChannel", "to_inbound"]
