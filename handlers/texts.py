"""Every user-facing phrase, keyed by locale. Translations are data files in locales/."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEFAULT_LOCALE", "PhraseBook", "available_locales", "t"]

DEFAULT_LOCALE = "vi"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


class PhraseBook:
    """Phrases in `<directory>/<locale>.yaml`, looked up by dotted key; a missing
    key falls back to vi, so a translation can be partial. Each feature keeps its
    own book next to its code."""

    def __init__(self, directory: Path, name: str = "core") -> None:
        self.directory = directory
        self.name = name

    @functools.cache  # noqa: B019 (books live as long as the process)
    def _load(self, locale: str) -> dict[str, Any]:
        path = self.directory / f"{locale}.yaml"
        if not path.exists():
            return {}
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh) or {}

    @staticmethod
    def _lookup(data: dict[str, Any], key: str) -> Any:
        node: Any = data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def raw(self, key: str, locale: str = DEFAULT_LOCALE) -> Any:
        value = self._lookup(self._load(locale), key)
        if value is None and locale != DEFAULT_LOCALE:
            value = self._lookup(self._load(DEFAULT_LOCALE), key)
        return value

    def t(self, key: str, locale: str = DEFAULT_LOCALE, /, **params: object) -> str:
        """The phrase `key` in `locale` (falling back to vi), formatted with params."""
        value = self.raw(key, locale)
        if not isinstance(value, str):
            raise KeyError(f"missing {self.name} phrase {key!r}")
        return value.format(**params) if params else value

    def locales(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.yaml"))


_CORE = PhraseBook(LOCALES_DIR)


def available_locales() -> list[str]:
    return _CORE.locales()


def t(key: str, locale: str = DEFAULT_LOCALE, /, **params: object) -> str:
    """The core's phrase `key` in `locale` (falling back to vi), formatted with params."""
    return _CORE.t(key, locale, **params)
