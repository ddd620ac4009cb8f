"""The plans feature's phrases (handlers/plans/vi.yaml; a translation is
<locale>.yaml next to it), looked up like handlers.texts does for the core."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from handlers.texts import PhraseBook

__all__ = ["fmt_date", "short", "t"]

HERE = Path(__file__).resolve().parent
t = PhraseBook(HERE, "plans").t


def fmt_date(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def short(text: str, limit: int = 300) -> str:
    """A task text cut at a word boundary (plan bullets can run to a paragraph)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"
