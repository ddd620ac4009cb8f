"""Intent and topic identifiers from the contract (``knowledge/spec/topics.md``).

The ids are listed here as constants so that importing them costs nothing;
:func:`parse_spec` reads the Markdown contract and a test keeps both in step.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = [
    "AUDIENCES",
    "INTENTS",
    "SAFETY_INTENTS",
    "SPEC_PATH",
    "TOPICS",
    "parse_spec",
]

SPEC_PATH = Path(__file__).with_name("spec") / "topics.md"

INTENTS: tuple[str, ...] = (
    "emergency",
    "disclosure",
    "report",
    "guidance",
    "smalltalk",
    "fallback",
)

# Intents that must never be missed: a child may be at risk.
SAFETY_INTENTS: frozenset[str] = frozenset({"emergency", "disclosure"})

TOPICS: tuple[str, ...] = (
    "body_safety",
    "abuse_signs",
    "disclosure_response",
    "reporting",
    "drowning_prevention",
    "drowning_first_aid",
    "online_safety",
    "online_grooming",
    "cyberbullying",
    "school_violence",
    "domestic_violence",
    "child_marriage",
    "child_labour",
    "trafficking",
    "injury_prevention",
    "mental_health",
    "child_rights",
    "support_services",
    "positive_parenting",
    "officer_procedure",
)

AUDIENCES: tuple[str, ...] = ("parent", "child", "officer", "any")

_ROW_ID = re.compile(r"^\|\s*`([a-z_]+)`\s*\|")


def parse_spec(path: Path = SPEC_PATH) -> dict[str, tuple[str, ...]]:
    """Read the ids from the contract's tables: ``{"intents": (...), "topics": (...)}``."""
    sections: dict[str, list[str]] = {"intents": [], "topics": []}
    current: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            title = line.lower()
            current = "intents" if "intent" in title else "topics" if "topic" in title else None
            continue
        match = _ROW_ID.match(line)
        if current and match:
            sections[current].append(match.group(1))
    return {name: tuple(ids) for name, ids in sections.items()}
