"""Tables and properties for knowledge.keyboard (Telex/VNI typed with the IME off)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.keyboard import STRONG, WEAK, decode, is_syllable, repair
from knowledge.normalize import normalize

TELEX = [
    ("tooi khoong bieets", "toi khong biet"),
    ("dduowcj", "duoc"),
    ("nguwowif lowns", "nguoi lon"),
    ("nguwofi", "nguoi"),  # tone letter typed mid-word
    ("cuwus con vowis", "cuu con voi"),
    ("nhw the naof", "nhu the nao"),  # bare w = ư
    ("camr own nhieeuf", "cam on nhieu"),
    ("daaus hieeuj treer bij xaam haij", "dau hieu tre bi xam hai"),
    ("lamf sao ddeer con tin tuwowngr", "lam sao de con tin tuong"),
    ("bawts natj qua mangj", "bat nat qua mang"),
    ("treer 14 tuooir ddi lamf", "tre 14 tuoi di lam"),
    ("Con tooi bij ddanh!!!", "con toi bi danh"),
]

VNI = [
    ("to6i", "toi"),
    ("d9u7o75c", "duoc"),
    ("cha1y nha2", "chay nha"),
    ("ba2i ho5c ve62 nhu74ng cho64", "bai hoc ve nhung cho"),
    ("ma64u gia1o tha61y ra61t", "mau giao thay rat"),
    ("tre3 em lo71p 6a1", "tre em lop 6a1"),  # "6a1" starts with a digit: a class, kept
]

MIXED = [
    ("cứu con với, tooi bij ddanh", "cuu con voi toi bi danh"),
    ("tooi ko bieets lm j", "toi khong biet lam gi"),  # decode, then teencode
    ("kof bieets", "khong biet"),  # "kof" decodes to the teencode "ko"
    ("to6i bij ddanh", "toi bi danh"),
    ("laf gif vaayj mn", "la gi vay moi nguoi"),
    ("em 5 tuooir", "em 5 tuoi"),
]


@pytest.mark.parametrize(("raw", "expected"), TELEX + VNI + MIXED)
def test_normalize_reads_keyboard_residue(raw: str, expected: str) -> None:
    assert normalize(raw) == expected
    assert normalize(expected) == expected


UNCHANGED = [
    "toi ko bit lam j",
    "con bi danh",
    "sos cuu",
    "xe bus",
    "wa",
    "ok",
    "fb",
    "lop 6a1",
    "5 tuoi",
    "u23 viet nam",
    "khoong",  # valid as typed ("xoong"-like), no other evidence
    "xin chaof ad",  # one weak candidate is not enough
    "ad oj cho e hoj",  # teencode j for i
    "hix hix",
    "ex cua em",
    "top 10 covid19 mp3 iphone 13 h2o mi8",
    "this is his bus",
    "how are you",
    "i see you too",
    "yes it is ok",
    "my dad hits me",
    "my new phone",
    "help me please",
    "call sos now",
    "nha co xoong noi",
    "thanks ad nhieu",
]


@pytest.mark.parametrize("text", UNCHANGED)
def test_ordinary_messages_unchanged(text: str) -> None:
    tokens = text.split()
    assert repair(tokens) == tokens


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("dduowcj", ("duoc", STRONG)),
        ("bieets", ("biet", STRONG)),  # doubled vowel plus tone
        ("nawng", ("nang", STRONG)),
        ("d9i", ("di", STRONG)),
        ("ho5c", ("hoc", STRONG)),  # digit between letters
        ("u7", ("u", STRONG)),  # 6-9 are never tones
        ("laf", ("la", WEAK)),
        ("tooi", ("toi", WEAK)),
        ("nha2", ("nha", WEAK)),
        ("u23", ("u", WEAK)),
        ("bus", None),  # stoplist
        ("wa", None),  # leading w is teencode for qu
        ("saw", None),  # ă never ends a syllable
        ("a6", None),  # nor does â
        ("new", None),  # "ew" means nothing in Telex
        ("14t", None),
        ("con", None),  # no evidence
        ("for", None),  # f is no initial
    ],
)
def test_decode(token: str, expected: tuple[str, int] | None) -> None:
    assert decode(token) == expected


@pytest.mark.parametrize("word", ["nguoi", "khuyet", "truong", "ruou", "khuya", "xoong", "gi", "quoc", "yeu"])
def test_syllables(word: str) -> None:
    assert is_syllable(word)


@pytest.mark.parametrize("word", ["tooi", "bieets", "ye", "ie", "caiv", "ngh", "abc", "to6i"])
def test_not_syllables(word: str) -> None:
    assert not is_syllable(word)


_PIECES = [
    "dd", "d", "ng", "nh", "tr", "th", "qu", "gi", "b", "c", "t", "x", "w",
    "a", "aa", "aw", "e", "ee", "i", "o", "oo", "ow", "u", "uw", "y", "ie", "uo", "uow",
    "s", "f", "r", "j", "n", "c", "ng", "t", "1", "2", "5", "6", "7", "8", "9", "0", " ",
]


@settings(max_examples=400)
@given(st.lists(st.sampled_from(_PIECES), max_size=24))
def test_telex_like_text_is_stable(pieces: list[str]) -> None:
    text = "".join(pieces)
    out = normalize(text)
    assert normalize(out) == out
    tokens = text.split()
    repaired = repair(tokens)
    assert len(repaired) == len(tokens)
    assert repair(repaired) == repaired


@settings(max_examples=300)
@given(st.text(alphabet="adeiouywsfrxjnghctm0123456789 đ", max_size=40))
def test_repair_never_raises(text: str) -> None:
    out = normalize(text)
    assert normalize(out) == out
