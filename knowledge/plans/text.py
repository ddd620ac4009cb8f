"""Turn the raw text of a plan (.txt export, Markdown or PDF copy) into paragraphs.

Plans arrive as text extracted from Word or PDF files: lines may be hard-wrapped
mid-sentence (sometimes with a blank line in the middle of a sentence), Markdown
marks (``##``, ``**``) may surround headings, and footnotes or page numbers may be
interleaved. This module undoes all that and classifies each paragraph by its
leading marker (roman numeral, ``1.``/``1.1.``, ``a)``, bullet or none).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Para", "normalise_space", "split_paragraphs"]

Kind = Literal["roman", "num", "letter", "bullet", "text"]

_ROMAN_RE = re.compile(r"^(?P<m>[IVXL]{1,6})\s*[.)/:-]\s*(?=\S)")
_NUM_RE = re.compile(r"^(?P<m>\d{1,2}(?:\.\d{1,2}){0,3})(?:[.)]|(?<=\d)(?=\s))\s*(?=\S)")
_LETTER_RE = re.compile(r"^(?P<m>[a-zđ])\s*[).]\s+(?=\S)")
_BULLET_RE = re.compile(r"^(?P<m>[-–—•+·●○▪◦►❖✓➢*])\s*(?=\S)")
_SUPERSCRIPTS = "¹²³⁴⁵⁶⁷⁸⁹⁰"
_FOOTNOTE_LINE_RE = re.compile(rf"^[{_SUPERSCRIPTS}]+\s*\S")
_PAGE_NUMBER_RE = re.compile(r"^[-–]?\s*\d{1,3}\s*[-–]?$")
_MD_HEADING_RE = re.compile(r"^#{1,6}\s+")
_TERMINAL = tuple(".:;!?…")
# Words that cannot end a heading or a sentence: a line ending in one of them is
# wrapped even if the next line starts with a capital (a proper noun).
_DANGLING_WORDS = frozenset(
    "của và các về với cho tại trong theo số ngày đến từ là được bị để những này "
    "trên dưới hoặc nhằm như gồm có thuộc giữa mà thì nhưng vì do qua kể cả hết".split()
)
_CLOSING_START_RE = re.compile(r"^(?:Trên đây|Nơi nhận|TM\.|KT\.|T/M|K/T)")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50}


@dataclass
class Para:
    """One logical paragraph of the plan."""

    kind: Kind
    marker: str  # "IV", "1.2", "a", "-", "+", "" …
    text: str  # text without the marker, whitespace normalised
    emph: bool = False  # whole line bold or a Markdown heading
    indent: int = 0

    @property
    def depth(self) -> int:
        """Number of components of a numeric marker (``1.2`` -> 2)."""
        return self.marker.count(".") + 1 if self.kind == "num" else 1

    @property
    def is_caps(self) -> bool:
        """True for an upper-case title line such as ``TỔ CHỨC THỰC HIỆN``."""
        letters = [c for c in self.text if c.isalpha()]
        return len(letters) >= 4 and sum(c.isupper() for c in letters) / len(letters) > 0.8

    def style(self) -> str:
        """Key used to decide nesting: same style = same level."""
        if self.kind == "num":
            return f"num{self.depth}"
        if self.kind == "bullet":
            return f"bullet{self.marker}"
        if self.kind == "text":
            return "emph" if self.emph else "text"
        return self.kind


def normalise_space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _roman_value(s: str) -> int | None:
    total, prev = 0, 0
    for ch in reversed(s):
        v = _ROMAN_VALUES[ch]
        total = total - v if v < prev else total + v
        prev = max(prev, v)
    return total if 0 < total <= 40 else None


def _classify(line: str) -> tuple[Kind, str, str]:
    """Split a stripped line into (kind, marker, rest)."""
    m = _ROMAN_RE.match(line)
    if m and _roman_value(m["m"]) and (line[m.end()].isupper() or line[m.end()].isdigit()):
        return "roman", m["m"], line[m.end() :]
    m = _NUM_RE.match(line)
    if m:
        rest = line[m.end() :]
        plain = line[len(m["m"]) : m.end()].strip() == ""
        # "1 Phòng" / "1.1 Phòng" need a capital after the number, and a bare
        # "06 tháng" or "2026 phù hợp" (a wrapped line) must not become an item.
        if (
            rest
            and not rest[0].isdigit()
            and (rest[0].isupper() or not plain)
            and not (plain and "." not in m["m"])
        ):
            return "num", m["m"], rest
    m = _LETTER_RE.match(line)
    if m:
        return "letter", m["m"], line[m.end() :]
    m = _BULLET_RE.match(line)
    if m and not (m["m"] == "*" and line.startswith("**")):
        marker = {"–": "-", "—": "-", "·": "•", "●": "•", "▪": "•", "◦": "•"}.get(m["m"], m["m"])
        return "bullet", marker, line[m.end() :]
    return "text", "", line


def _clean_line(raw: str) -> tuple[str, bool, int] | None:
    """Strip Markdown marks, footnotes and page numbers; None drops the line."""
    line = raw.rstrip()
    indent = len(line) - len(line.lstrip())
    line = line.strip()
    if not line:
        return "", False, 0
    emph = False
    if _MD_HEADING_RE.match(line):
        emph = True
        line = _MD_HEADING_RE.sub("", line)
    stripped = line.strip("*_ ")
    if line.startswith("**") and line.rstrip().endswith("**") and stripped:
        emph = True
    if line.startswith("* ") or line.startswith("*\t"):
        line = "- " + line[2:]
    line = line.replace("*", "").replace("__", "")
    line = (
        line.translate({ord(c): None for c in _SUPERSCRIPTS})
        if not _FOOTNOTE_LINE_RE.match(line)
        else ""
    )
    line = line.strip()
    if not line or _PAGE_NUMBER_RE.match(line) or line == "./.":
        return None
    return line, emph, indent


def _wrap_width(lines: list[str]) -> int | None:
    """Width of a hard-wrapped text, or None when paragraphs are single lines."""
    lengths = sorted(len(x) for x in lines if x)
    if len(lengths) < 10:
        return None
    width = lengths[int(len(lengths) * 0.9)]
    if width > 140:
        return None
    near_full = sum(1 for n in lengths if n >= 0.75 * width)
    return width if near_full >= 0.3 * len(lengths) else None


def _continues(prev: str, line: str, blank_between: bool, width: int | None) -> bool:
    """Whether ``line`` (no marker) continues the paragraph ending in ``prev``."""
    if _CLOSING_START_RE.match(line):
        return False
    first = line[0]
    if first.islower() or first in ",;)]%" or line.startswith("./."):
        return True
    last_word = prev.rsplit(" ", 1)[-1].lower().strip("“”\"'(")
    if prev.endswith((",", "-", "–", "(", "“")) or last_word in _DANGLING_WORDS:
        return True
    if first.isdigit() and not prev.endswith(_TERMINAL):
        return True
    if blank_between:
        return False
    if width and len(prev) >= 0.75 * width:
        return True
    return False


def split_paragraphs(text: str, is_heading: Callable[[str], bool] | None = None) -> list[Para]:
    """Paragraphs of ``text`` with wrapped lines joined and markers classified.

    ``is_heading`` tells whether a one-line numbered item reads as a complete
    heading (a body's name): then a capitalised next line starts its body instead
    of continuing it, even when the heading fills the wrap width.
    """
    text = unicodedata.normalize("NFC", text.lstrip("\ufeff")).replace("\r\n", "\n")
    text = text.replace("\r", "\n").replace("\u00a0", " ").replace("\t", " ")
    cleaned: list[tuple[str, bool, int]] = []
    for raw in text.split("\n"):
        item = _clean_line(raw)
        if item is not None:
            cleaned.append(item)
    width = _wrap_width([c[0] for c in cleaned])

    paras: list[Para] = []
    last_line = ""
    blank = True
    lines_in_para = 0
    for line, emph, indent in cleaned:
        if not line:
            blank = True
            continue
        kind, marker, rest = _classify(line)
        if (
            kind == "bullet"
            and marker == "-"
            and width
            and not blank
            and paras
            and paras[-1].kind == "text"
            and not paras[-1].emph
            and len(last_line) >= 0.75 * width
            and last_line[-1].isalnum()
        ):
            # "… (qua phòng Lao động" / "- Thương binh và Xã hội)": a hyphen that the
            # wrap put at the start of a line, not a bullet.
            kind, marker, rest = "text", "", line
        heading_done = (
            is_heading is not None
            and paras
            and lines_in_para == 1
            and paras[-1].kind in ("num", "letter", "roman")
            and line[0].isupper()
            and last_line.rsplit(" ", 1)[-1].lower() not in _DANGLING_WORDS
            and is_heading(paras[-1].text)
        )
        if (
            kind == "text"
            and paras
            and not paras[-1].emph
            and not heading_done
            and _continues(last_line, line, blank, width)
            and not (paras[-1].text.endswith("./."))
        ):
            paras[-1].text = normalise_space(paras[-1].text + " " + line)
            lines_in_para += 1
        else:
            paras.append(Para(kind, marker, normalise_space(rest), emph, indent))
            lines_in_para = 1
        last_line = line
        blank = False
    return [p for p in paras if p.text]
