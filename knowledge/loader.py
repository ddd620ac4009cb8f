"""Load and check the curated content (``content/<locale>/<topic>.yaml``).

:func:`load_knowledge_base` validates every entry against :class:`~knowledge.models.Entry`
and fails loudly (``ContentError`` naming file and line). :func:`check_content`
also applies the editorial rules of ``kb_format.md`` (111 in every answer,
answer length, distinct questions, drowning first-aid safety, coverage) and
returns every problem instead of stopping at the first.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from knowledge.models import Entry, KnowledgeBase, Problem
from knowledge.normalize import fold, normalize
from knowledge.topics import TOPICS

__all__ = [
    "CONTENT_ROOT",
    "ContentError",
    "check_content",
    "content_dir",
    "load_knowledge_base",
]

CONTENT_ROOT = Path(__file__).with_name("content")

MAX_ANSWER = 900
MAX_CHILD_ANSWER = 500
MIN_QUESTIONS = 6
MIN_PER_TOPIC = 3
MIN_ENTRIES = 100
CHILD_TOPICS = (
    "body_safety",
    "online_grooming",
    "cyberbullying",
    "school_violence",
    "drowning_prevention",
    "mental_health",
)
OFFICER_TOPICS = ("officer_procedure",)

# Drowning first aid: "carry the child upside down to drain water" is a dangerous
# myth. Any sentence naming it must also negate it.
_UPSIDE_DOWN = re.compile(r"\b(?:doc|lon|treo|dung|xoc|vac) nguoc\b")
_NEGATION = re.compile(r"(?:không|đừng|chớ|cấm|tránh|chẳng|tuyệt đối)")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;:])\s+|\n+")
_HOTLINE = re.compile(r"(?<!\d)111(?!\d)")


class ContentError(ValueError):
    """Raised by :func:`load_knowledge_base` when the content does not validate."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class _Located:
    """One raw entry with where it came from."""

    file: Path
    line: int
    field_lines: dict[str, int]
    data: Any


def content_dir(root: Path | None = None, locale: str = "vi") -> Path:
    """The directory holding ``<topic>.yaml`` files for ``locale``.

    ``root`` is a content root with one folder per locale; a folder that holds
    the YAML files directly is accepted too (handy for tests and drafts).
    """
    root = CONTENT_ROOT if root is None else Path(root)
    localised = root / locale
    return localised if localised.is_dir() else root


# libyaml's safe loader when the wheel has it (several times faster at start-up).
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_file(path: Path) -> tuple[list[_Located], list[Problem]]:
    """Parse one YAML file, keeping the line of every entry and field."""
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_SafeLoader)
        data = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a safe loader
    except UnicodeDecodeError as exc:
        return [], [Problem(path, 1, f"not UTF-8: {exc}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        return [], [Problem(path, line, f"YAML syntax error: {reason}")]
    if node is None or data is None:
        return [], []
    if not isinstance(node, yaml.SequenceNode) or not isinstance(data, list):
        return [], [Problem(path, node.start_mark.line + 1, "file must be a YAML list of entries")]
    located: list[_Located] = []
    for item_node, item in zip(node.value, data, strict=True):
        field_lines: dict[str, int] = {}
        if isinstance(item_node, yaml.MappingNode):
            for key_node, _value in item_node.value:
                field_lines[str(key_node.value)] = key_node.start_mark.line + 1
        located.append(_Located(path, item_node.start_mark.line + 1, field_lines, item))
    return located, []


def _validate(raw: _Located) -> tuple[Entry | None, list[Problem]]:
    if not isinstance(raw.data, dict):
        return None, [Problem(raw.file, raw.line, "entry must be a mapping")]
    try:
        return Entry.model_validate(raw.data), []
    except ValidationError as exc:
        problems = []
        entry_id = raw.data.get("id", "?")
        for err in exc.errors():
            loc = err["loc"]
            name = str(loc[0]) if loc else ""
            line = raw.field_lines.get(name, raw.line)
            where = ".".join(str(p) for p in loc) or "entry"
            problems.append(Problem(raw.file, line, f"{entry_id}: {where}: {err['msg']}"))
        return None, problems


def _collect(
    root: Path | None, locale: str
) -> tuple[Path, list[tuple[_Located, Entry]], list[Problem]]:
    directory = content_dir(root, locale)
    problems: list[Problem] = []
    valid: list[tuple[_Located, Entry]] = []
    if not directory.is_dir():
        return directory, valid, [Problem(directory, 0, "content directory not found")]
    for path in sorted(directory.glob("*.y*ml")):
        located, file_problems = _read_file(path)
        problems.extend(file_problems)
        for raw in located:
            entry, entry_problems = _validate(raw)
            problems.extend(entry_problems)
            if entry is not None:
                valid.append((raw, entry))
    return directory, valid, problems


def load_knowledge_base(root: Path | None = None, locale: str = "vi") -> KnowledgeBase:
    """Load every entry of ``locale``; raise :class:`ContentError` on schema errors."""
    _directory, valid, problems = _collect(root, locale)
    seen: dict[str, _Located] = {}
    for raw, entry in valid:
        if entry.id in seen:
            first = seen[entry.id]
            problems.append(
                Problem(raw.file, raw.line, f"duplicate id {entry.id!r} (first at {first.file.name}:{first.line})")
            )
        seen[entry.id] = raw
    if problems:
        raise ContentError(problems)
    return KnowledgeBase.from_entries((entry for _raw, entry in valid), locale=locale)


def _entry_problems(raw: _Located, entry: Entry, known_ids: set[str]) -> list[Problem]:
    """The editorial rules that apply to a single entry."""
    out: list[Problem] = []

    def at(name: str, message: str) -> None:
        out.append(Problem(raw.file, raw.field_lines.get(name, raw.line), f"{entry.id}: {message}"))

    stem = raw.file.stem
    if stem in TOPICS and entry.topic != stem:
        at("topic", f"topic {entry.topic!r} does not match the file {raw.file.name}")
    prefix = entry.topic.replace("_", "-")
    if not entry.id.startswith(prefix):
        at("id", f"id must start with {prefix!r}")

    limit = MAX_CHILD_ANSWER if entry.audience == "child" else MAX_ANSWER
    if len(entry.answer) > limit:
        at("answer", f"answer has {len(entry.answer)} characters (max {limit} for {entry.audience})")
    if not _HOTLINE.search(entry.answer):
        at("answer", "answer must mention 111")

    folded = [normalize(q) for q in entry.questions]
    distinct = {q for q in folded if q}
    if len(distinct) < MIN_QUESTIONS:
        dupes = sorted(q for q, n in Counter(folded).items() if n > 1)
        detail = f" (repeated: {', '.join(dupes)})" if dupes else ""
        at("questions", f"only {len(distinct)} distinct questions after folding (min {MIN_QUESTIONS}){detail}")

    for rel in entry.related:
        if rel == entry.id:
            at("related", "related lists the entry itself")
        elif rel not in known_ids:
            at("related", f"related id {rel!r} does not exist")

    if entry.topic == "drowning_first_aid":
        for sentence in _SENTENCE_SPLIT.split(entry.answer):
            plain = unicodedata.normalize("NFC", sentence).casefold()
            if _UPSIDE_DOWN.search(fold(plain)) and not _NEGATION.search(plain):
                at("answer", f"upside-down carrying must be forbidden, not taught: {sentence.strip()!r}")
    return out


def _coverage(directory: Path, entries: list[Entry]) -> list[Problem]:
    out: list[Problem] = []

    def where(topic: str) -> tuple[Path, int]:
        path = directory / f"{topic}.yaml"
        return (path, 1) if path.exists() else (directory, 0)

    per_topic = Counter(e.topic for e in entries)
    for topic in TOPICS:
        if per_topic[topic] < MIN_PER_TOPIC:
            out.append(Problem(*where(topic), f"topic {topic} has {per_topic[topic]} entries (min {MIN_PER_TOPIC})"))
    audiences = {(e.topic, e.audience) for e in entries}
    for topic in CHILD_TOPICS:
        if (topic, "child") not in audiences:
            out.append(Problem(*where(topic), f"topic {topic} needs an entry for audience child"))
    for topic in OFFICER_TOPICS:
        if (topic, "officer") not in audiences:
            out.append(Problem(*where(topic), f"topic {topic} needs an entry for audience officer"))
    if len(entries) < MIN_ENTRIES:
        out.append(Problem(directory, 0, f"{len(entries)} entries in all (min {MIN_ENTRIES})"))
    return out


def check_content(root: Path | None = None, locale: str = "vi") -> list[Problem]:
    """Every schema and editorial problem of the content, sorted by file and line."""
    directory, valid, problems = _collect(root, locale)
    first_seen: dict[str, _Located] = {}
    for raw, entry in valid:
        if entry.id in first_seen:
            first = first_seen[entry.id]
            problems.append(
                Problem(raw.file, raw.field_lines.get("id", raw.line),
                        f"duplicate id {entry.id!r} (first at {first.file.name}:{first.line})")
            )
        else:
            first_seen[entry.id] = raw
    known_ids = set(first_seen)
    for raw, entry in valid:
        problems.extend(_entry_problems(raw, entry, known_ids))
    if directory.is_dir():
        problems.extend(_coverage(directory, [entry for _raw, entry in valid]))
    return sorted(problems, key=lambda p: (str(p.file), p.line, p.message))
