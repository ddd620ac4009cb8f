"""The plans feature's phrases (handlers/plans/vi.yaml; a translation is
<locale>.yaml next to it), looked up like handlers.texts does for the core."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = ["fmt_date", "short", "t"]

HERE = Path(__file__).resolve().parent
DEFAULT_LOCALE = "vi"


@cache
def _load(locale: str) -> dict[str, Any]:
    path = HERE / f"{locale}.yaml"
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def _lookup(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def t(key: str, locale: str = DEFAULT_LOCALE, /, **params: object) -> str:
    value = _lookup(_load(locale), key)
    if value is None and locale != DEFAULT_LOCALE:
        value = _lookup(_load(DEFAULT_LOCALE), key)
    if not isinstance(value, str):
        raise KeyError(f"missing plans phrase {key!r}")
    return value.format(**params) if params else value


def fmt_date(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def short(text: str, limit: int = 300) -> str:
    """A task text cut at a word boundary (plan bullets can run to a paragraph)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"
