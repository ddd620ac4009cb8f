"""The hotline's phrases (handlers/hotline/vi.yaml; a translation is <locale>.yaml
next to it), looked up like handlers.texts does for the core."""

from __future__ import annotations

from pathlib import Path

from handlers.texts import DEFAULT_LOCALE, PhraseBook

__all__ = ["choices", "t"]

HERE = Path(__file__).resolve().parent
_BOOK = PhraseBook(HERE, "hotline")
t = _BOOK.t


def choices(key: str, locale: str = DEFAULT_LOCALE) -> dict[str, str]:
    """An ordered code -> label mapping (e.g. the categories)."""
    value = _BOOK.raw(key, locale)
    if not isinstance(value, dict):
        raise KeyError(f"missing hotline choices {key!r}")
    return {str(k): str(v) for k, v in value.items()}
