"""The bridge from handlers to knowledge's text understanding.

The composition root injects `Services.understand` (knowledge.understand.Understander);
without it (unit tests of the core) a tiny stand-in keeps the router working.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Understanding", "understand_text"]


@dataclass(frozen=True)
class Understanding:
    intent: str
    topic: str | None = None
    entry_id: str | None = None
    score: float = 0.0
    confident: bool = False
    hits: list[Any] = field(default_factory=list)
    normalized: str = ""


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text.casefold()).replace("đ", "d")
    return "".join(c for c in text if not unicodedata.combining(c))


_GREETINGS = ("xin chao", "chao", "hello", "hi", "alo", "cam on", "thanks")


def _stand_in(text: str) -> Understanding:
    folded = _fold(text).strip(" !.?")
    if any(folded == g or folded.startswith(g + " ") for g in _GREETINGS):
        return Understanding(intent="smalltalk", normalized=folded)
    return Understanding(intent="fallback", normalized=folded)


def understand_text(services: Any, text: str) -> Any:
    fn = getattr(services, "understand", None)
    if fn is None:
        return _stand_in(text)
    return fn(text)
