"""Import a Vietnamese child-protection plan (Kế hoạch) into a structured dict.

The implementation section ("TỔ CHỨC THỰC HIỆN", "NHIỆM VỤ, GIẢI PHÁP VÀ PHÂN CÔNG
THỰC HIỆN", …) lists the bodies in charge (units) and their duties (tasks). The
parser works on structure, not on the wording of any particular plan:

1. :mod:`.text` turns the text into paragraphs with a classified leading marker;
2. the implementation section is the titled section whose items look most like
   organisations;
3. inside it, the heading style (``1.``, ``1.1.``, ``a)``, bold line …) with the most
   organisation-like items is the unit level; everything under a unit gives tasks
   by the rules of ``shared/plans/expected/README.md``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from .dates import find_deadlines, find_events, find_recurrence, format_date
from .text import Para, normalise_space, split_paragraphs

__all__ = ["PlanImportError", "classify_kind", "import_plan", "is_org_name"]


class PlanImportError(ValueError):
    """The text is not a plan this importer can read."""


_IMPL_TITLE_RE = re.compile(
    r"tổ chức thực hiện|phân công (?:thực hiện|nhiệm vụ|trách nhiệm)|"
    r"trách nhiệm (?:thực hiện|của các)|nhiệm vụ (?:cụ thể )?của các (?:cơ quan|đơn vị|ngành)",
    re.IGNORECASE,
)
_NOT_UNIT_RE = re.compile(
    r"^(?:chế độ|thời gian|thời hạn|tiến độ|kinh phí|điều khoản|hiệu lực|công tác (?:thông tin, )?báo cáo)"
    r"|báo cáo(?:, | và )?(?:định kỳ|thông tin|sơ kết|tổng kết)?$|^(?:thông tin, )?báo cáo",
    re.IGNORECASE,
)
_CLOSING_RE = re.compile(
    r"^(?:trên đây|nơi nhận|tm\.|kt\.|t/m|k/t|trong quá trình (?:tổ chức )?(?:triển khai|thực hiện))",
    re.IGNORECASE,
)
_ORG_RE = re.compile(
    r"^(?:đề nghị|giao|trách nhiệm của)?\s*(?:"
    r"phòng\b|ban\b|sở\b|ubnd|ủy ban|uỷ ban|hđnd|hội đồng|trạm\b|trung tâm|công an|quân sự|"
    r"ban chỉ huy|hội\b|đoàn\b|liên đoàn|mặt trận|mttq|trường\b|văn phòng|bộ phận|"
    r"cán bộ|công chức|viên chức|thôn\b|bản\b|tổ dân phố|bí thư|chi hội|chi đoàn|đài\b|"
    r"bệnh viện|tòa án|toà án|viện kiểm sát|chi cục|cục\b|bộ\b|bảo hiểm xã hội|ngân hàng|"
    r"đồn\b|bộ đội|đồn biên phòng|nhà trường|cơ sở giáo dục|thanh tra|kho bạc|chủ tịch|"
    r"phó chủ tịch|thủ trưởng|lãnh đạo|ngành\b|người làm công tác|nhóm (?:thường trực|công tác|bảo vệ)|"
    r"tổ (?:công tác|bảo vệ|tư vấn|hòa giải|hoà giải|dân phố)|"
    r"trưởng (?:các )?(?:thôn|bản|ban|khu|phố|tổ dân phố|công an|trạm|phòng|xóm|ấp)|"
    r"(?:các|những) (?:cơ quan|đơn vị|phòng|ban|ngành|tổ chức|trường|thôn|bản|xã|phường|hội|"
    r"đoàn thể|cơ sở|trạm|trung tâm|doanh nghiệp|chi hội|sở|hợp tác xã|khu|tổ|ủy ban|uỷ ban|ubnd))",
    re.IGNORECASE,
)
# A one-line unit item ("Công an xã chủ trì …"): the name ends before the first duty verb.
_DUTY_VERB_RE = re.compile(
    r"\s(?:chủ trì|phối hợp|có trách nhiệm|chịu trách nhiệm|tham mưu|thực hiện|triển khai|"
    r"chỉ đạo|hướng dẫn|tăng cường|đẩy mạnh|bố trí|căn cứ|xây dựng|rà soát|theo dõi|"
    r"lồng ghép|tuyên truyền|cân đối|đảm bảo|bảo đảm|phát huy|vận động|tiếp tục|kiểm tra|"
    r"giám sát|quản lý|hỗ trợ|là cơ quan|thường xuyên|nắm chắc)\b"
)
_KIND_KEYWORDS: list[tuple[str, str]] = [
    ("training", r"tập huấn|bồi dưỡng|nâng cao năng lực|đào tạo"),
    ("communication", r"tuyên truyền|truyền thông|phổ biến|giáo dục pháp luật|thông tin"),
    ("inspection", r"kiểm tra|giám sát|thanh tra|quản lý nhân khẩu"),
    ("report", r"báo cáo|thống kê|rà soát|cập nhật|theo dõi|dữ liệu|số liệu|phát hiện"),
    (
        "event",
        r"tháng hành động|diễn đàn|hội thi|cuộc thi|vui chơi|văn nghệ|hoạt động nhân|lễ phát động",
    ),
    ("service", r"hỗ trợ|can thiệp|trợ giúp|khám|chăm sóc|chính sách|tiếp nhận|dịch vụ|giám định"),
    (
        "coordination",
        r"chủ trì|phối hợp|tham mưu|chỉ đạo|hướng dẫn|xây dựng kế hoạch|kiện toàn|thành lập",
    ),
]
_KIND_RES = [(k, re.compile(rx, re.IGNORECASE)) for k, rx in _KIND_KEYWORDS]


def classify_kind(text: str) -> str:
    """A judgement of the task's kind from the first verb-like keyword in its text."""
    head = text[:90]
    best: tuple[int, str] | None = None
    for kind, rx in _KIND_RES:
        m = rx.search(head)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), kind)
    return best[1] if best else "other"


def is_org_name(text: str) -> bool:
    """Whether a heading looks like the name of a body (Phòng …, UBND …, Các đơn vị …)."""
    return bool(_ORG_RE.match(text.strip(' “"('))) and len(text) <= 260


def _looks_like_heading(text: str) -> bool:
    """A body's name alone (no duty verb, no sentence punctuation)."""
    return (
        len(text) <= 140
        and is_org_name(text)
        and not _DUTY_VERB_RE.search(text)
        and ":" not in text.rstrip(":")
        and not text.endswith((",", ";", "-", "–"))
        and text.count("(") <= text.count(")")
    )


# --- document header: year, issuer, level ------------------------------------------

_ISSUE_DATE_RE = re.compile(r"ngày\s*[\d.…_ ]*\s*tháng\s*[\d.…_ ]*\s*năm\s+(20\d\d)", re.IGNORECASE)
_YEAR_RE = re.compile(r"\b(20\d\d)\b")
_ADMIN = r"xã|phường|thị trấn|huyện|quận|thị xã|thành phố|tỉnh"
_NAME = r"[A-ZĐÀ-Ỹ][\wÀ-ỹ]*(?:\s+[A-ZĐÀ-Ỹ0-9][\wÀ-ỹ]*){0,4}"
_ISSUER_RE = re.compile(
    rf"(?P<body>UBND|Ủy ban nhân dân|Uỷ ban nhân dân|ỦY BAN NHÂN DÂN|Sở [A-ZĐ][\wÀ-ỹ]*(?:\s+[\wÀ-ỹ]+){{0,6}}?)"
    rf"\s+(?P<admin>{_ADMIN}|{_ADMIN.upper()})\s+(?P<name>{_NAME}|[A-ZĐÀ-Ỹ ]{{2,40}}?)"
    r"(?=\s+(?:ban hành|xây dựng|triển khai|thực hiện|lập|tổ chức)\b|\s*$|\s*\n)",
)
_CENTRAL_CITIES = {"hà nội", "hồ chí minh", "hải phòng", "đà nẵng", "cần thơ", "huế"}
_LEVELS = {
    "xã": "commune",
    "phường": "commune",
    "thị trấn": "commune",
    "huyện": "district",
    "quận": "district",
    "thị xã": "district",
    "thành phố": "city",
    "tỉnh": "province",
}


def _title_case(name: str) -> str:
    if name.isupper():
        return " ".join(w.capitalize() for w in name.split())
    return name


def _find_year(paras: list[Para]) -> int:
    head = " ".join(p.text for p in paras[:15])
    m = _ISSUE_DATE_RE.search(head)
    if m:
        return int(m.group(1))
    counts = Counter(int(y) for y in _YEAR_RE.findall(" ".join(p.text for p in paras)))
    if counts:
        return counts.most_common(1)[0][0]
    raise PlanImportError("no year found")


def _find_issuer(paras: list[Para]) -> tuple[str, str]:
    """(issuer, level) from the header or the "… ban hành Kế hoạch" sentence."""
    head_lines = [p.text for p in paras[:40]]
    # Header "ỦY BAN NHÂN DÂN" / "XÃ CHÂU SƠN" on two lines.
    for i, line in enumerate(head_lines[:8]):
        if re.fullmatch(r"(?:ỦY|UỶ) BAN NHÂN DÂN", line.strip()) and i + 1 < len(head_lines):
            m = re.match(rf"({_ADMIN.upper()})\s+(.+)", head_lines[i + 1].strip())
            if m:
                return _issuer_from(m.group(1).lower(), _title_case(m.group(2)))
    best: tuple[int, str, str] | None = None
    for line in head_lines:
        for m in _ISSUER_RE.finditer(line):
            follows = line[m.end() : m.end() + 20].strip().lower()
            score = 2 if follows.startswith(("ban hành", "xây dựng")) else 1
            body = m["body"]
            if body.upper() in ("UBND", "ỦY BAN NHÂN DÂN", "UỶ BAN NHÂN DÂN"):
                admin, name = m["admin"].lower(), _title_case(m["name"].strip())
                if best is None or score > best[0]:
                    best = (score, admin, name)
            elif best is None:
                return normalise_space(f"{body} {m['admin'].lower()} {m['name']}"), "province"
    if best:
        return _issuer_from(best[1], best[2])
    return "", "commune"


def _issuer_from(admin: str, name: str) -> tuple[str, str]:
    level = _LEVELS.get(admin, "commune")
    if admin == "thành phố" and name.lower() in _CENTRAL_CITIES:
        level = "province"
    return f"Ủy ban nhân dân {admin} {name}", level


# --- implementation section ---------------------------------------------------------


def _is_heading(p: Para) -> bool:
    if p.kind in ("roman", "num", "letter"):
        return True
    return p.kind == "text" and (p.emph or p.is_caps) and len(p.text) <= 200


def _is_closing(p: Para) -> bool:
    if p.kind == "bullet":
        return False
    return bool(_CLOSING_RE.match(p.text)) or p.text.endswith("./.")


def _section_end(paras: list[Para], start: int) -> int:
    title = paras[start]
    number = int(title.marker) if title.kind == "num" and title.marker.isdigit() else None
    for j in range(start + 1, len(paras)):
        p = paras[j]
        if _is_closing(p):
            return j
        if title.kind == "roman":
            if p.kind == "roman":
                return j
            continue
        if p.kind == "roman" and not is_org_name(p.text):
            return j  # roman items that name bodies are the units of this section
        if title.kind == "num" and p.kind == "num" and p.depth == title.depth and number:
            if p.marker.isdigit() and int(p.marker) > number:
                return j
        if title.kind == "text" and p.kind == "text" and p.is_caps and len(p.text) <= 120:
            if not is_org_name(p.text):
                return j
    return len(paras)


def _candidate_sections(paras: list[Para]) -> list[tuple[int, int]]:
    found = []
    for i, p in enumerate(paras):
        if _is_heading(p) and len(p.text) <= 140 and _IMPL_TITLE_RE.search(p.text):
            if p.kind == "num" and p.depth > 1 and not p.is_caps:
                continue  # "2.3. Tổ chức thực hiện …" inside a section is rarely the roster
            found.append((i + 1, _section_end(paras, i)))
    return found


# --- units and tasks ------------------------------------------------------------------


def _levels(section: list[Para]) -> dict[str, int]:
    """Nesting level of each heading style, by order of first appearance."""
    order: dict[str, int] = {}
    for p in section:
        if _is_heading(p):
            order.setdefault(p.style(), len(order))
    # A deeper numeric marker is always below a shallower one.
    nums = sorted((s for s in order if s.startswith("num")), key=lambda s: int(s[3:]))
    if nums:
        slots = sorted(order[s] for s in nums)
        for s, slot in zip(nums, slots, strict=True):
            order[s] = slot
    return order


def _unit_style(section: list[Para], levels: dict[str, int]) -> str | None:
    counts: Counter[str] = Counter()
    for p in section:
        if _is_heading(p) and is_org_name(p.text) and not _NOT_UNIT_RE.search(p.text):
            counts[p.style()] += 1
    if not counts:
        return None
    return max(counts, key=lambda s: (counts[s], -levels.get(s, 0)))


def _split_label(text: str) -> tuple[str, str]:
    """Split "Công an xã: Chủ trì …" into ("Công an xã", "Chủ trì …")."""
    head, sep, rest = text.partition(":")
    if sep and len(head) <= 160 and is_org_name(head) and len(rest.split()) >= 3:
        return head.strip(), rest.strip()
    return text.strip(), ""


def _clean_name(name: str) -> str:
    name = re.sub(r"^(?:đề nghị|giao)\s+", "", name.strip(), flags=re.IGNORECASE)
    name = name.strip(" :.;-–")
    return name[:1].upper() + name[1:]


def _make_task(text: str, year: int) -> dict[str, Any]:
    text = normalise_space(text)
    deadlines = find_deadlines(text)
    deadline = None
    if deadlines:
        d = deadlines[0]
        deadline = format_date(d.day, d.month, d.year or year)
    return {
        "text": text,
        "deadline": deadline,
        "recurrence": find_recurrence(text),
        "kind": classify_kind(text),
    }


def _task_texts(body: list[Para], unit_level: bool) -> list[str]:
    """Task texts under a unit (``unit_level``) or under one of its sub-items."""
    first = next((i for i, p in enumerate(body) if _is_heading(p)), None)
    preamble = body if first is None else body[:first]
    has_bullets = any(p.kind == "bullet" for p in preamble)
    texts = [
        p.text
        for p in preamble
        if p.kind == "bullet" or (p.kind == "text" and (unit_level or not has_bullets))
    ]
    if first is None:
        return texts
    style = body[first].style()
    starts = [i for i in range(first, len(body)) if body[i].style() == style]
    for n, s in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(body)
        title, content = body[s], body[s + 1 : end]
        if _NOT_UNIT_RE.search(title.text):
            continue
        sub = _task_texts(content, unit_level=False) if content else []
        texts.extend(sub if sub else [title.text])
    return texts


def _build_units(section: list[Para], year: int) -> list[dict[str, Any]]:
    levels = _levels(section)
    style = _unit_style(section, levels)
    units: list[dict[str, Any]] = []
    if style is None:
        return _label_units(section, year)
    unit_level = levels[style]
    current: tuple[Para, list[Para]] | None = None
    groups: list[tuple[Para, list[Para]]] = []
    for p in section:
        if p.style() == style:
            current = None if _NOT_UNIT_RE.search(p.text) else (p, [])
            if current:
                groups.append(current)
        elif _is_heading(p) and levels.get(p.style(), 99) < unit_level:
            current = None  # a group title above the units ("1. Các cơ quan cấp tỉnh")
        elif current is not None:
            current[1].append(p)
    for heading, body in groups:
        name, inline = _split_label(heading.text)
        texts = ([inline] if inline else []) + _task_texts(body, unit_level=True)
        if not texts and len(name) > 60:
            # A one-line item that is both the unit and its duty.
            m = _DUTY_VERB_RE.search(name)
            if m and is_org_name(name[: m.start()]):
                texts = [name]
                name = name[: m.start()]
        units.append({"name": _clean_name(name), "tasks": [_make_task(t, year) for t in texts]})
    return units


def _label_units(section: list[Para], year: int) -> list[dict[str, Any]]:
    """Fallback: units written as "- Phòng Văn hóa - Xã hội: tham mưu …" lines."""
    units: list[dict[str, Any]] = []
    label_style: str | None = None
    for p in section:
        name, duty = _split_label(p.text)
        if duty and (label_style is None or p.style() == label_style):
            label_style = p.style()
            units.append({"name": _clean_name(name), "tasks": [_make_task(duty, year)]})
        elif units and p.kind in ("bullet", "text"):
            units[-1]["tasks"].append(_make_task(p.text, year))
    return units


def _find_units(paras: list[Para], year: int) -> list[dict[str, Any]]:
    best: list[dict[str, Any]] = []
    best_key = (-1, -1)
    for start, end in _candidate_sections(paras):
        units = _build_units(paras[start:end], year)
        orgs = sum(1 for u in units if is_org_name(u["name"]))
        key = (orgs, sum(len(u["tasks"]) for u in units))
        if key > best_key:
            best, best_key = units, key
    if best_key[0] <= 0:
        # No titled implementation section: look at the whole body after the preamble.
        start = next((i for i, p in enumerate(paras) if p.kind == "roman"), 0)
        end = next((i for i in range(start, len(paras)) if _is_closing(paras[i])), len(paras))
        units = _build_units(paras[start:end], year)
        if sum(1 for u in units if is_org_name(u["name"])) >= 2:
            best = units
    return best


# --- reporting deadlines ------------------------------------------------------------

_RECIPIENT_RE = re.compile(
    r"\bvề\s+(?P<to>(?:UBND|Ủy ban|Uỷ ban|Sở|[Pp]hòng(?!,? chống)|Văn phòng|Bộ|Cục|Trung tâm|Ban|"
    r"Thường trực|công chức|Công chức)"
    r"[^.;:()]*?(?:\s*\([^)]*\))?)(?=\s+(?:để|trước|theo|qua|định kỳ)\b|\s*[.;,]|$)"
)
_REPORT_WORD_RE = re.compile(r"báo cáo|gửi|tổng hợp", re.IGNORECASE)


def _reporting_deadlines(
    paras: list[Para], issuer: str, level: str, year: int, full_text: str
) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    seen: set[str] = set()
    for p in paras:
        text = p.text
        matches = find_deadlines(text)
        prev_end = 0
        for d in matches:
            window_start = max(prev_end, d.start - 200)
            window = text[window_start : d.start]
            window = re.split(r"[.;]\s+", window)[-1]
            after = text[d.end : d.end + 80]
            prev_end = d.end
            if not _REPORT_WORD_RE.search(window + " " + after):
                continue
            date_str = format_date(d.day, d.month, d.year)
            if date_str in seen:
                continue
            seen.add(date_str)
            what = normalise_space(window).lstrip(" ,;)]:-–").rstrip(" ,;([:-–")
            what = re.sub(r"^(?:và|hoặc)\s+", "", what)
            what = what[:1].upper() + what[1:] if what else "Báo cáo"
            rec = _RECIPIENT_RE.search(text, window_start) or _RECIPIENT_RE.search(text)
            to = rec["to"].strip() if rec else issuer
            found.append({"what": what[:200], "date": date_str, "to": to})
    # Facts sheet §12: communes report the Month of Action results to the province
    # before 20/7 even when the plan does not repeat it.
    if (
        level == "commune"
        and re.search(r"tháng hành động vì trẻ em", full_text, re.IGNORECASE)
        and not any(r["date"].endswith("-07-20") for r in found)
    ):
        found.append(
            {
                "what": "Báo cáo kết quả Tháng hành động vì trẻ em (theo quy định, kế hoạch không ghi)",
                "date": f"{year:04d}-07-20",
                "to": "Ủy ban nhân dân tỉnh (qua Sở Y tế)",
            }
        )
    return found


# --- entry point ----------------------------------------------------------------------


def import_plan(text: str) -> dict[str, Any]:
    """Structured content of a plan: issuer, level, year, units/tasks, deadlines, events.

    Raises :class:`PlanImportError` when the text is empty or has no year at all.
    """
    if not text or not text.strip():
        raise PlanImportError("empty text")
    paras = split_paragraphs(text, is_heading=_looks_like_heading)
    full = "\n".join(p.text for p in paras)
    year = _find_year(paras)
    issuer, level = _find_issuer(paras)
    units = _find_units(paras, year)
    return {
        "issuer": issuer,
        "level": level,
        "year": year,
        "units": units,
        "reporting_deadlines": _reporting_deadlines(paras, issuer, level, year, full),
        "events": find_events(full),
    }
