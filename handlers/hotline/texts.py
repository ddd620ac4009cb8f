"""The hotline's phrases (handlers/hotline/vi.yaml; a translation is <locale>.yaml
next to it), looked up like handlers.texts does for the core."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = ["choices", "t"]

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


def _raw(key: str, locale: str) -> Any:
    value = _lookup(_load(locale), key)
    if value is None and locale != DEFAULT_LOCALE:
        value = _lookup(_load(DEFAULT_LOCALE), key)
    return value


def t(key: str, locale: str = DEFAULT_LOCALE, /, **params: object) -> str:
    value = _raw(key, locale)
    if not isinstance(value, str):
        raise KeyError(f"missing hotline phrase {key!r}")
    return value.format(**params) if params else value


def choices(key: str, locale: str = DEFAULT_LOCALE) -> dict[str, str]:
    """An ordered code -> label mapping (e.g. the categories)."""
    value = _raw(key, locale)
    if not isinstance(value, dict):
        raise KeyError(f"missing hotline choices {key!r}")
    return {str(k): str(v) for k, v in value.items()}
