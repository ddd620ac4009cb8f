"""Zalo-only rendering: numbered text menus and message splitting.

Zalo has no buttons or keyboards and caps `text`/`caption` at 2000 characters,
so buttons become a numbered list and long replies are split. Pure functions.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_TEXT_LENGTH", "render_text_with_buttons", "reply_hint", "split_message"]

MAX_TEXT_LENGTH = 2000

# A blank line: newline, optional non-newline whitespace, newline.
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
# A sentence end: punctuation (plus closing quotes/brackets) followed by whitespace.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")


def reply_hint(count: int) -> str:
    """The "answer with a number" line for a menu of `count` options."""
    if count <= 1:
        return "Trả lời 1."
    if count == 2:
        return "Trả lời 1 hoặc 2."
    if count == 3:
        return "Trả lời 1, 2 hoặc 3."
    return f"Trả lời một số từ 1 đến {count}."


def render_text_with_buttons(text: str, labels: list[str]) -> str:
    """Append buttons as a numbered menu plus a hint; `text` alone if no labels.

    >>> print(render_text_with_buttons("Bạn cần gì?", ["Hỏi đáp", "Báo tin"]))
    Bạn cần gì?
    <BLANKLINE>
    1. Hỏi đáp
    2. Báo tin
    Trả lời 1 hoặc 2.
    """
    body = text.rstrip()
    if not labels:
        return body
    menu = "\n".join(f"{number}. {label.strip()}" for number, label in enumerate(labels, 1))
    menu = f"{menu}\n{reply_hint(len(labels))}"
    return f"{body}\n\n{menu}" if body else menu


def _last_cut(pattern: re.Pattern[str], window: str, *, use_end: bool) -> int:
    cut = 0
    for match in pattern.finditer(window):
        cut = match.end() if use_end else match.start()
    return cut


def _find_cut(text: str, limit: int) -> int:
    """Where to cut `text` (longer than `limit`, no leading whitespace); 1..limit."""
    window = text[: limit + 1]  # a separator may start right at index `limit`
    cut = _last_cut(_BLANK_LINE, window, use_end=False)
    if cut <= 0:
        cut = window.rfind("\n")
    if cut <= 0:
        cut = _last_cut(_SENTENCE_END, window, use_end=True)
    if cut <= 0:
        cut = next((i for i in range(len(window) - 1, 0, -1) if window[i].isspace()), 0)
    if cut <= 0 or cut > limit:
        cut = limit
        # Do not strand a combining mark (NFD Vietnamese) from its base letter.
        while cut > 1 and unicodedata.combining(text[cut]):
            cut -= 1
    return cut


def split_message(text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """Split `text` into chunks of at most `limit` characters.

    Cuts at the last blank line that fits, else the last line break, sentence
    end, or space, else hard at `limit`. Whitespace at cut points is dropped;
    no chunk is empty or whitespace-only; empty input gives [].
    """
    if limit < 1:
        raise ValueError("limit must be >= 1")
    chunks: list[str] = []
    rest = text.strip()
    while rest:
        if len(rest) <= limit:
            chunks.append(rest)
            break
        cut = _find_cut(rest, limit)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return chunks
