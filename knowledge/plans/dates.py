"""Dates, deadlines, recurrences and named events in Vietnamese plan text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

__all__ = [
    "DeadlineMatch",
    "find_deadlines",
    "find_events",
    "find_recurrence",
    "format_date",
    "parse_date",
]

# "10/5/2026", "10-5-2026", "10.5.2026", "25/11" and "15 tháng 7 năm 2021", "15 tháng 7"
_DATE = (
    r"(?P<d>\d{1,2})\s*(?:[/.-]\s*(?P<m>\d{1,2})(?:\s*[/.-]\s*(?P<y>\d{4}))?"
    r"|\s+tháng\s+(?P<m2>\d{1,2})(?:\s*(?:,\s*)?năm\s+(?P<y2>\d{4}))?)"
)
_DATE_RE = re.compile(_DATE)
# A deadline is a date introduced by a cue word; "Quyết định ... ngày 03/01/2019" is not.
_DEADLINE_RE = re.compile(
    r"(?P<cue>trước|chậm nhất(?:\s+là)?|muộn nhất(?:\s+là)?|không muộn hơn|không quá|"
    r"hạn chót(?:\s+là)?|hạn nộp|hoàn thành(?:\s+trong|\s+vào)?)"
    r"\s+(?:ngày\s+)?" + _DATE,
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DeadlineMatch:
    start: int
    end: int
    month: int
    day: int
    year: int | None  # None when the text gives no year


def parse_date(match: re.Match[str]) -> tuple[int, int, int | None] | None:
    """(day, month, year|None) from a match of the date pattern; None if invalid."""
    day = int(match["d"])
    month = int(match["m"] or match["m2"])
    year_txt = match["y"] or match["y2"]
    year = int(year_txt) if year_txt else None
    try:
        date(year or 2000, month, day)  # 2000 is a leap year: accepts 29/2
    except ValueError:
        return None
    return day, month, year


def format_date(day: int, month: int, year: int | None) -> str:
    """``YYYY-MM-DD`` when the year is known, else ``--MM-DD``."""
    return f"{year:04d}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"


def find_deadlines(text: str) -> list[DeadlineMatch]:
    """Every cue-introduced date in ``text`` ("trước ngày 10/5/2026", "(trước ngày 25/11)")."""
    found = []
    for m in _DEADLINE_RE.finditer(text):
        parsed = parse_date(m)
        if parsed:
            day, month, year = parsed
            found.append(DeadlineMatch(m.start(), m.end(), month, day, year))
    return found


# Earliest period word wins: "Hằng tháng, quý" is monthly.
_RECURRENCE_PATTERNS: list[tuple[str, str]] = [
    (r"\b(?:hằng|hàng|mỗi)\s+tháng\b|\bđịnh kỳ\s+tháng\b|\bbáo cáo tháng\b", "monthly"),
    (r"\b(?:hằng|hàng|mỗi|theo)\s+quý\b|\bđịnh kỳ\s+quý\b|\bbáo cáo quý\b", "quarterly"),
    (
        r"\b(?:0?6|sáu)\s+tháng(?:\s+đầu năm)?\b(?!\s+tuổi)|\bnửa năm\b|\bbán niên\b",
        "semiannual",
    ),
    (
        r"\b(?:hằng|hàng|mỗi)\s+năm\b|\bcác năm tiếp theo\b|\bthường niên\b|"
        r"\b(?:định kỳ|báo cáo|tổng kết)\s+năm\b(?!\s+\d)|\bbáo cáo\s+(?:định kỳ\s+)?năm\b(?!\s+\d)",
        "annual",
    ),
]
_RECURRENCE_RES = [(re.compile(p, re.IGNORECASE), v) for p, v in _RECURRENCE_PATTERNS]


def find_recurrence(text: str) -> str | None:
    """monthly | quarterly | semiannual | annual when the text states a period."""
    best: tuple[int, str] | None = None
    for rx, value in _RECURRENCE_RES:
        m = rx.search(text)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), value)
    return best[1] if best else None


# Named days of the child-protection calendar (facts sheet §12).
_EVENTS: list[tuple[str, str | None, str]] = [
    ("Tháng hành động vì trẻ em", "--06-01", r"tháng hành động vì trẻ em"),
    ("Ngày Quốc tế thiếu nhi", "--06-01", r"quốc tế thiếu nhi"),
    (
        "Ngày Thế giới phòng, chống lao động trẻ em",
        "--06-12",
        r"thế giới phòng,? chống lao động trẻ em",
    ),
    ("Ngày Gia đình Việt Nam", "--06-28", r"ngày gia đình việt nam"),
    (
        "Ngày Thế giới phòng, chống đuối nước",
        "--07-25",
        r"(?:ngày|thế giới)[^.;]{0,20}phòng,? chống đuối nước",
    ),
    (
        "Ngày toàn dân phòng, chống mua bán người",
        "--07-30",
        r"ngày (?:toàn dân|thế giới) phòng,? chống mua bán người",
    ),
    (
        "Ngày toàn dân đưa trẻ đến trường",
        "--09-05",
        r"toàn dân đưa trẻ (?:em )?đến trường|lễ khai giảng|khai giảng năm học",
    ),
    ("Tết Trung thu", "lunar:--08-15", r"tết trung thu|đêm hội trăng rằm|rằm tháng tám"),
    ("Tết Nguyên đán", "lunar:--01-01", r"tết nguyên đán"),
    ("Tháng hành động vì bình đẳng giới", "--11-15", r"tháng hành động vì bình đẳng giới"),
    ("Ngày Thế giới vì trẻ em", "--11-20", r"ngày thế giới vì trẻ em"),
    ("Diễn đàn trẻ em", None, r"diễn đàn trẻ em"),
]
_EVENT_RES = [(name, when, re.compile(rx, re.IGNORECASE)) for name, when, rx in _EVENTS]


def find_events(text: str) -> list[dict[str, str | None]]:
    """Named events of the calendar mentioned in ``text``, in order of first mention."""
    hits: list[tuple[int, dict[str, str | None]]] = []
    for name, when, rx in _EVENT_RES:
        m = rx.search(text)
        if m:
            hits.append((m.start(), {"name": name, "date": when}))
    hits.sort(key=lambda h: h[0])
    return [h[1] for h in hits]
