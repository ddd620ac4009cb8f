"""Every user-facing phrase, keyed by locale. Translations are data files in locales/."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEFAULT_LOCALE", "t", "available_locales"]

DEFAULT_LOCALE = "vi"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


@cache
def _load(locale: str) -> dict[str, Any]:
    path = LOCALES_DIR / f"{locale}.yaml"
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    return data


def available_locales() -> list[str]:
    return sorted(p.stem for p in LOCALES_DIR.glob("*.yaml"))


def _lookup(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def t(key: str, locale: str = DEFAULT_LOCALE, /, **params: object) -> str:
    """The phrase `key` in `locale` (falling back to vi), formatted with params."""
    value = _lookup(_load(locale), key)
    if value is None and locale != DEFAULT_LOCALE:
        value = _lookup(_load(DEFAULT_LOCALE), key)
    if not isinstance(value, str):
        raise KeyError(f"missing phrase {key!r}")
    return value.format(**params) if params else value
