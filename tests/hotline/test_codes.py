"""Case and invite codes, phone numbers, phrases."""

from __future__ import annotations

import re

import yaml

from handlers.hotline.codes import (
    ALPHABET,
    new_case_code,
    new_invite_code,
    parse_case_code,
    parse_invite_code,
)
from handlers.hotline.intake import normalize_phone
from handlers.hotline.texts import HERE


def test_alphabet_has_no_lookalikes() -> None:
    for ch in "01OI":
        assert ch not in ALPHABET
    assert len(set(ALPHABET)) == len(ALPHABET) == 32


def test_case_codes_are_well_formed_and_varied() -> None:
    codes = {new_case_code() for _ in range(500)}
    assert len(codes) > 495
    for code in codes:
        assert re.fullmatch(rf"BV-[{ALPHABET}]{{6}}", code)


def test_invite_codes() -> None:
    code = new_invite_code()
    assert re.fullmatch(rf"[{ALPHABET}]{{8}}", code)
    assert parse_invite_code(code.lower()) == code
    assert parse_invite_code("ABC") is None
    assert parse_invite_code("O0000000") is None


def test_parse_case_code_is_lenient_with_case_and_dash() -> None:
    assert parse_case_code("bv-7k3q9x") == "BV-7K3Q9X"
    assert parse_case_code("BV 7K3Q9X") == "BV-7K3Q9X"
    assert parse_case_code("bv7k3q9x") == "BV-7K3Q9X"
    assert parse_case_code("BV-7K3Q9") is None
    assert parse_case_code("BV-OK3Q9X") is None  # O is not in the alphabet


def test_vietnamese_phone_numbers() -> None:
    assert normalize_phone("0912 345 678") == "0912345678"
    assert normalize_phone("+84 912.345.678") == "0912345678"
    assert normalize_phone("84912345678") == "0912345678"
    assert normalize_phone("0205 3812 345") == "02053812345"  # landline
    assert normalize_phone("0123456789") is None  # old 11-digit-era prefix
    assert normalize_phone("091234567") is None
    assert normalize_phone("số của tôi") is None


def test_every_phrase_key_used_exists() -> None:
    """Each t("...") key in the package resolves in vi.yaml."""
    data = yaml.safe_load((HERE / "vi.yaml").read_text(encoding="utf-8"))
    source = "\n".join(p.read_text(encoding="utf-8") for p in HERE.glob("*.py"))
    keys = set(re.findall(r'\bt\(\s*"([a-z_0-9.]+)"', source))
    assert len(keys) > 50
    for key in keys:
        node = data
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, key
            node = node[part]
