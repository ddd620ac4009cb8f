"""Reply -> Telegram: inline keyboards, and texts split under the 4096 limit."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.messages import Button

__all__ = ["MAX_TEXT", "keyboard", "split_text"]

MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    rows = []
    for b in buttons:
        data = b.data.encode("utf-8")[:MAX_CALLBACK_BYTES].decode("utf-8", "ignore")
        rows.append([InlineKeyboardButton(b.label[:64], callback_data=data)])
    return InlineKeyboardMarkup(rows)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split at paragraph, then line, then space boundaries; never an empty chunk."""
    text = text.strip()
    chunks: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        if cut <= 0:
            cut = limit
        head, text = text[:cut].strip(), text[cut:].strip()
        if head:
            chunks.append(head)
    if text:
        chunks.append(text)
    return chunks
