"""One text normaliser for everything that reads user text.

Vietnamese users type with or without diacritics, in teencode ("ko bít lm j"),
with stretched letters ("cứuuuu") and emoji. Triage, search and the content
checks all compare text through :func:`normalize`, so the knowledge base and a
message typed on a cheap phone end up in the same form: ASCII ``[a-z0-9 ]``,
single spaces, teencode expanded. Messages typed with the keyboard's Vietnamese
input off (Telex "khoong bieets", VNI "kho6ng bie61t") are decoded first by
:func:`knowledge.keyboard.repair`, only when the message as a whole shows it.

The function is idempotent (``normalize(normalize(x)) == normalize(x)``): every
expansion produces tokens that are fixed points of the same rules.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from knowledge.keyboard import repair

__all__ = ["fold", "normalize", "tokens"]

# Teencode that only makes sense with its diacritics ("hông" = không, while the
# folded "hong" may be "hỏng"/"hồng"). Applied to casefolded tokens before folding.
_ACCENTED: dict[str, str] = {
    "hông": "khong",
    "hổng": "khong",
    "khum": "khong",
    "hem": "khong",
    "bít": "biet",
    "đc": "duoc",
    "đk": "duoc",
    "đag": "dang",
    "đg": "dang",
    "ngừi": "nguoi",
    "nhìu": "nhieu",
    "mún": "muon",
    "bùn": "buon",
    "mìn": "minh",
    "wá": "qua",
    "hùi": "hoi",
    "zậy": "vay",
    "zị": "vay",
    "thía": "the",
    "đt": "dien thoai",
    "gđ": "gia dinh",
    "sđt": "so dien thoai",
    # Regional words for "beat" (Southern/Central). Only the accented forms are
    # unambiguous: folded "nen" is "nên" and folded "quynh" is the name "Quỳnh".
    "quýnh": "danh",
    "uýnh": "danh",
    "nện": "danh",
    # Central (Huế, Quảng, Nghệ Tĩnh) words with no other meaning once accented.
    "rứa": "vay",
    "chừ": "gio",
    "nỏ": "khong",
    "hỉ": "nhi",
    "nớ": "do",
    "chộ": "thay",
    "mần": "lam",
}

# Central question words that are ordinary words elsewhere ("răng" is a tooth, "mô" a
# tissue, "chi" a branch or spending): read as questions only in the phrases that ask.
# Without them "cứu ra răng cho an toàn" reads as a story, not a question.
_REGIONAL_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<!đi )\b(ra|mần|làm|tính|biết|vì|tại) răng\b"), r"\1 sao"),
    (re.compile(r"\brăng (rứa|ri|hỉ|mà|không|ko|được)\b"), r"sao \1"),
    (re.compile(r"\b(ở|đi|chỗ|bên|từ|về|vô|nơi|đằng|phía|tới|đến) mô\b"), r"\1 đâu"),
    (re.compile(r"\b(khi|lúc|hồi|bữa) mô\b"), r"\1 nào"),
    (re.compile(r"\b(làm|cái|là|nói|hỏi|sợ|có|được|mần|để) chi\b(?! (?:phí|tiêu|hội|bộ|nhánh|tiết|trả|cục|lương))"),
     r"\1 gì"),
)

# ASCII teencode and abbreviations, applied to folded tokens. Every value is made
# of tokens that map to themselves, which keeps normalize idempotent.
_FOLDED: dict[str, str] = {
    # không
    "ko": "khong", "k": "khong", "kh": "khong", "khg": "khong", "kg": "khong",
    "hok": "khong", "hk": "khong", "khum": "khong", "hem": "khong",
    "kp": "khong phai", "kbh": "khong bao gio",
    # được, gì, như thế nào, bây giờ
    "dc": "duoc", "dk": "duoc", "dx": "duoc",
    "j": "gi", "ji": "gi", "gj": "gi",
    "ntn": "nhu the nao", "ntnao": "nhu the nao", "lsao": "lam sao", "lm": "lam",
    "ciu": "cuu", "cuuu": "cuu",
    "bh": "bay gio", "bjo": "bay gio", "bgio": "bay gio", "bjh": "bay gio",
    # pronouns and people
    "mk": "minh", "mik": "minh", "mjk": "minh", "mh": "minh", "e": "em", "tui": "toi",
    "cj": "chi", "ng": "nguoi", "ngta": "nguoi ta", "ngt": "nguoi ta", "mn": "moi nguoi",
    "mng": "moi nguoi", "ck": "chong", "vk": "vo", "bme": "bo me", "bm": "bo me",
    "ae": "anh em", "kon": "con", "cgai": "con gai", "ctrai": "con trai",
    "gd": "gia dinh", "hs": "hoc sinh", "gv": "giao vien",
    # time and aspect
    "r": "roi", "trc": "truoc", "ms": "moi", "dag": "dang", "dg": "dang", "hum": "hom",
    "hnay": "hom nay", "hqua": "hom qua", "wa": "qua", "tg": "thoi gian",
    # misc function words
    "vs": "voi", "cx": "cung", "cg": "cung", "cug": "cung", "s": "sao",
    "bt": "biet", "bik": "biet", "bjt": "biet", "thik": "thich",
    "iu": "yeu", "nhiu": "nhieu", "nhju": "nhieu", "ak": "a", "ah": "a", "uk": "u",
    "ok": "ok", "oke": "ok", "okie": "ok", "okela": "ok", "oki": "ok",
    "dt": "dien thoai", "sdt": "so dien thoai", "fb": "facebook", "face": "facebook",
    "mxh": "mang xa hoi", "ib": "inbox", "tn": "tin nhan", "nt": "nhan tin",
    "tks": "cam on", "thks": "cam on", "thanks": "cam on", "thank": "cam on",
    "thx": "cam on", "camon": "cam on", "cmon": "cam on",
    "tt": "thong tin", "bv": "benh vien", "cs": "canh sat",
    "uynh": "danh",
}

# "v"/"z" mean "vậy" only as a final particle ("sao v", "lm j z").
_FINAL: dict[str, str] = {"v": "vay", "z": "vay", "zay": "vay", "dzay": "vay"}

# Folded words with a legitimate double letter, to undo over-squashing of
# stretched words ("cứuuuu" -> "cuu", not "cu").
_DOUBLES = frozenset(
    "cuu huu muu buu luu suu tuu khuu nguu truu xoong boong mooc sooc kooc".split()
)

_TOKEN_RE = re.compile(r"\w+")
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")
_RUN3_RE = re.compile(r"([a-z])\1{2,}")


def fold(text: str) -> str:
    """Casefold and strip diacritics (``đ`` -> ``d``) without touching anything else."""
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFC", text).casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("đ", "d")


def _squash(token: str) -> str:
    """Collapse letters repeated 3+ times; keep a double where the word needs it."""
    if not _RUN3_RE.search(token):
        return token
    doubled = _RUN3_RE.sub(r"\1\1", token)
    if doubled in _DOUBLES:
        return doubled
    return _RUN3_RE.sub(r"\1", token)


def _accented(match: re.Match[str]) -> str:
    return _ACCENTED.get(match.group(0), match.group(0))


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Return ``text`` as lowercase ASCII words (``[a-z0-9 ]``) with teencode expanded."""
    text = unicodedata.normalize("NFC", text).casefold()
    if any(w in text for w in ("răng", "mô", "chi")):
        for pattern, replacement in _REGIONAL_PHRASES:
            text = pattern.sub(replacement, text)
    text = _TOKEN_RE.sub(_accented, text)
    text = _NON_ALNUM_RE.sub(" ", fold(text))
    # Keyboard repair sees folded syllables but must precede teencode ("kof" -> "ko").
    raw = repair([_squash(t) for t in text.split()])
    out: list[str] = []
    last = len(raw) - 1
    for i, tok in enumerate(raw):
        if i == last and tok in _FINAL:
            out.append(_FINAL[tok])
        else:
            out.append(_FOLDED.get(tok, tok))
    return " ".join(out)


def tokens(text: str) -> list[str]:
    """Normalised syllables of ``text``."""
    return normalize(text).split()
