"""Typed knowledge-base records (the schema of ``content/<locale>/<topic>.yaml``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowledge.topics import TOPICS

__all__ = ["Audience", "Entry", "KnowledgeBase", "Problem"]

Audience = Literal["parent", "child", "officer", "any"]

_KEBAB = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class Entry(BaseModel):
    """One curated guidance answer with the phrasings that should reach it."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=_KEBAB, max_length=80)
    topic: str
    audience: Audience
    title: str = Field(min_length=1, max_length=80)
    answer: str = Field(min_length=1)
    questions: tuple[str, ...] = Field(min_length=6)
    sources: tuple[str, ...] = Field(min_length=1)
    related: tuple[str, ...] = ()
    reviewed: date

    @field_validator("topic")
    @classmethod
    def _known_topic(cls, value: str) -> str:
        if value not in TOPICS:
            raise ValueError(f"unknown topic {value!r} (not in spec/topics.md)")
        return value

    @field_validator("questions", "sources")
    @classmethod
    def _no_blank_items(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not item.strip() for item in value):
            raise ValueError("blank item")
        return value


@dataclass(frozen=True, slots=True)
class Problem:
    """A content problem, printed as ``FILE:LINE: message``."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class KnowledgeBase:
    """All entries of one locale, indexed by id and topic."""

    entries: tuple[Entry, ...]
    locale: str = "vi"
    by_id: Mapping[str, Entry] = field(init=False)
    by_topic: Mapping[str, tuple[Entry, ...]] = field(init=False)

    def __post_init__(self) -> None:
        by_topic: dict[str, list[Entry]] = {}
        for entry in self.entries:
            by_topic.setdefault(entry.topic, []).append(entry)
        object.__setattr__(self, "by_id", {e.id: e for e in self.entries})
        object.__setattr__(self, "by_topic", {t: tuple(es) for t, es in by_topic.items()})

    @classmethod
    def from_entries(cls, entries: Iterable[Entry], locale: str = "vi") -> KnowledgeBase:
        return cls(entries=tuple(entries), locale=locale)

    def __len__(self) -> int:
        return len(self.entries)
