"""Case codes (BV-7K3Q9X) and officer invite codes, from an alphabet without the
look-alikes 0/O and 1/I, drawn with `secrets` so they cannot be guessed."""

from __future__ import annotations

import re
import secrets

__all__ = ["ALPHABET", "CASE_PREFIX", "new_case_code", "new_invite_code", "parse_case_code",
           "parse_invite_code"]

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CASE_PREFIX = "BV-"
CASE_LEN = 6
INVITE_LEN = 8

_CASE_RE = re.compile(rf"^BV-?([{ALPHABET}]{{{CASE_LEN}}})$")
_INVITE_RE = re.compile(rf"^[{ALPHABET}]{{{INVITE_LEN}}}$")


def _draw(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def new_case_code() -> str:
    return CASE_PREFIX + _draw(CASE_LEN)


def new_invite_code() -> str:
    return _draw(INVITE_LEN)


def parse_case_code(text: str) -> str | None:
    """'bv-7k3q9x', 'BV 7K3Q9X', 'bv7k3q9x' -> 'BV-7K3Q9X'; None if not a case code."""
    raw = re.sub(r"[\s.]", "", (text or "").strip().upper())
    m = _CASE_RE.match(raw)
    return CASE_PREFIX + m.group(1) if m else None


def parse_invite_code(text: str) -> str | None:
    raw = re.sub(r"[\s-]", "", (text or "").strip().upper())
    return raw if _INVITE_RE.match(raw) else None
