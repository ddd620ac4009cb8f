"""Reviewable YAML drafts of imported plans, and their validation.

``to_yaml`` writes the importer's dict as YAML (Vietnamese kept as is) so an officer
can correct it; ``parse_draft`` reads it back into pydantic models and reports the
first problem with its line number.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "DraftError",
    "Event",
    "PlanDraft",
    "ReportingDeadline",
    "Task",
    "Unit",
    "parse_draft",
    "to_yaml",
]

_MONTH_DAY_RE = re.compile(r"^--(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_FULL_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_HEADER = """\
# Bản nháp kế hoạch — kiểm tra, sửa rồi nạp bằng `bvte plan load`.
# Draft of an imported plan: review and correct, then load it.
# Ngày: YYYY-MM-DD, hoặc --MM-DD khi văn bản không ghi năm; sự kiện âm lịch: lunar:--MM-DD.
# recurrence: monthly | quarterly | semiannual | annual | null
# kind: report | event | training | communication | inspection | coordination | service | other
"""


def _iso(value: Any) -> Any:
    # YAML reads an unquoted 2026-05-10 as a date; the draft format keeps strings.
    return value.isoformat() if isinstance(value, date) else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Task(_Model):
    text: str = Field(min_length=1)
    deadline: str | None = None
    recurrence: Literal["monthly", "quarterly", "semiannual", "annual"] | None = None
    kind: Literal[
        "report",
        "event",
        "training",
        "communication",
        "inspection",
        "coordination",
        "service",
        "other",
    ] = "other"

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline(cls, value: Any) -> Any:
        value = _iso(value)
        if value is not None:
            if not isinstance(value, str) or not _FULL_DATE_RE.match(value):
                raise ValueError("deadline must be YYYY-MM-DD or null")
            date.fromisoformat(value)
        return value


class Unit(_Model):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)


class ReportingDeadline(_Model):
    what: str = Field(min_length=1)
    date: str
    to: str = ""

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        value = _iso(value)
        if isinstance(value, str):
            if _MONTH_DAY_RE.match(value):
                return value
            if _FULL_DATE_RE.match(value):
                date.fromisoformat(value)
                return value
        raise ValueError("date must be YYYY-MM-DD or --MM-DD")


class Event(_Model):
    name: str = Field(min_length=1)
    date: str | None = None

    @field_validator("date")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        if value is not None and not _MONTH_DAY_RE.match(value.removeprefix("lunar:")):
            raise ValueError("date must be --MM-DD, lunar:--MM-DD or null")
        return value


class PlanDraft(_Model):
    issuer: str = Field(min_length=1)
    level: Literal["commune", "district", "city", "province"]
    year: int = Field(ge=2000, le=2100)
    units: list[Unit] = Field(min_length=1)
    reporting_deadlines: list[ReportingDeadline] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The importer's dict shape (empty ``aliases`` lists left out)."""
        data = self.model_dump(mode="json")
        for unit in data["units"]:
            if not unit["aliases"]:
                del unit["aliases"]
        return data


class DraftError(ValueError):
    """A malformed draft; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"dòng {line}: {reason}" if line else reason)
        self.line = line
        self.reason = reason


def to_yaml(plan: dict[str, Any]) -> str:
    """A reviewable YAML draft of ``plan`` (keys in a stable order, Unicode kept)."""
    body = yaml.safe_dump(plan, allow_unicode=True, sort_keys=False, width=100, indent=2)
    return _HEADER + body


def _node_at(node: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node:
    """The deepest YAML node along a pydantic error location."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == key:
                    node = k if isinstance(v, yaml.ScalarNode) and v.value == "" else v
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                return node
            node = node.value[key]
        else:
            return node
    return node


def parse_draft(text: str) -> PlanDraft:
    """Validate a YAML draft; raise :class:`DraftError` with line number and reason."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise DraftError(line, f"YAML không hợp lệ / invalid YAML: {exc.problem}") from None
    if root is None or not isinstance(data, dict):
        raise DraftError(1, "bản nháp phải là một bảng khóa–giá trị / draft must be a mapping")
    try:
        return PlanDraft.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        node = _node_at(root, loc)
        field = ".".join(str(x) for x in loc)
        raise DraftError(node.start_mark.line + 1, f"{field}: {err['msg']}") from None
