"""Read Vietnamese typed with the keyboard input method switched off.

With Unikey/the phone IME off, the keystrokes that would have become diacritics
stay in the text: Telex ("tooi khoong bieets", "dduwowcj" = "được") or VNI
("to6i", "d9u7o75c"). :func:`repair` takes *folded* ASCII tokens (the form
:func:`knowledge.normalize.normalize` works on) and drops those keystrokes, so
"nguwowif" reads as "nguoi" like a message typed with diacritics.

Most such tokens look like nothing else, but a few collide with Latin words
("bus", "is") or teencode, so the decision is made per message: only when the
evidence adds up (see :func:`repair`) is anything decoded, and then only tokens
whose decode is a well-formed Vietnamese syllable.
"""

from __future__ import annotations

import re

__all__ = ["decode", "is_syllable", "repair"]

# Folded syllable = initial? + nucleus + final?. Nuclei are split by whether a
# final may follow: "ie"/"ye"/"oo" never end a syllable, "ai"/"eo" never take one.
# Over-accepting is harmless here (it only gates decoding), so no tone/ch-c rules.
_INITIAL = "ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx]"
_OPEN = (
    "a ai ao au ay e eo eu i ia iu ieu o oa oai oao oay oe oeo oi u ua uay ue ui uo uoi"
    " uou uu uy uya uyu y yeu"
)
_CLOSED = "a e i o u y oa oe oo ie ua ue uo uy uye ye"
_FINAL = "ch|ng|nh|[cmnpt]"


def _alt(words: str) -> str:
    # Longest first so the regex engine tries "uoi" before "uo".
    return "|".join(sorted(words.split(), key=len, reverse=True))


_SYLLABLE_RE = re.compile(
    rf"(?:{_INITIAL})?(?:(?:{_alt(_CLOSED)})(?:{_FINAL})|(?:{_alt(_OPEN)}))"
)
# "ă" is always closed ("ăn"), "â" closed or followed by u/y ("ân", "âu", "ây"):
# this rejects Latin "saw"/"law" and VNI-looking "a6"/"a8".
_BAD_BREVE_RE = re.compile(r"ă(?![cmnpt])|â(?![cmnptuy])")
_RUN3_RE = re.compile(r"([a-z])\1\1")

_VOWELS = frozenset("aeiouy")
_TONES = frozenset("sfrxj")  # Telex sắc, huyền, hỏi, ngã, nặng
_DOUBLE_RE = re.compile(r"(a|e|o)\1+")

# Latin words and teencode ("oj" = ơi: j for i) that decode to a syllable but mean
# what they say.
_STOPLIST = frozenset(
    """
    sos bus yes is as us his has this its of if or off her hers per oj roj thoj
    box sex six max mix tax kiss miss boss pass less les trans sis ex hix
    how now down town too see seen been keep meet teen tree
    """.split()
)

# Anything that could be keyboard evidence; most messages fail this at once.
_MAYBE_RE = re.compile(r"[aeiouy][a-z]*[sfrxjw]|[a-z][1-9]|\bdd|aa|ee|oo|[a-z]w")

STRONG, WEAK = 2, 1


def is_syllable(token: str) -> bool:
    """True if ``token`` is a well-formed folded Vietnamese syllable."""
    return _SYLLABLE_RE.fullmatch(token) is not None and not _RUN3_RE.search(token)


def _finish(marked: str) -> str | None:
    """Check the breve/circumflex rules, fold and validate; None if not a syllable."""
    if _BAD_BREVE_RE.search(marked):
        return None
    folded = marked.replace("ă", "a").replace("â", "a")
    return folded if is_syllable(folded) else None


def _telex(token: str) -> tuple[str, int] | None:
    out: list[str] = []
    strong = weak = False
    seen_vowel = tone = False
    for ch in token:
        if ch in _VOWELS:
            seen_vowel = True
            out.append(ch)
        elif ch == "w":
            prev = out[-1] if out else ""
            if not seen_vowel:
                # "nhw" = "như": a bare w after the initial is the vowel ư.
                out.append("u")
                seen_vowel = weak = True
            elif prev in ("a", "o", "u"):
                if prev == "a":
                    out[-1] = "ă"
                strong = True
            elif prev in ("e", "i", "y", "ă"):
                return None  # "new", "view": no Telex meaning
            else:
                strong = True  # modifier typed after the final: "thuongw"
        elif ch in _TONES and seen_vowel:
            tone = True
        else:
            out.append(ch)
    if not seen_vowel:
        return None
    marked = "".join(out)
    doubled = False
    if _DOUBLE_RE.search(marked):
        # Circumflex keys: aa -> â, ee -> ê, oo -> ô (only â matters for validity).
        marked = _DOUBLE_RE.sub(lambda m: "â" if m.group(1) == "a" else m.group(1), marked)
        doubled = True
    if marked.startswith("dd"):
        marked = marked[1:]
        strong = True
    if doubled and tone:
        strong = True
    weak = weak or tone or doubled
    if not (strong or weak):
        return None
    decoded = _finish(marked)
    if decoded is None:
        return None
    return decoded, STRONG if strong else WEAK


# VNI digits: 1-5 tones, 6 circumflex, 7 horn, 8 breve, 9 đ. Each needs its target
# earlier in the token, which rules out "mi8" or "h2o".
_VNI_TARGETS = {"6": "aeo", "7": "ou", "8": "a", "9": "d"}
_VNI_TONE_TARGETS = "aeiouyâă"


def _vni(token: str) -> tuple[str, int] | None:
    if not token[0].isalpha() or "0" in token:
        return None  # "14t", "5a1", "top10": numbers, not VNI
    out: list[str] = []
    strong = False
    for i, ch in enumerate(token):
        if not ch.isdigit():
            out.append(ch)
            continue
        targets = _VNI_TARGETS.get(ch, _VNI_TONE_TARGETS)
        hit = next((j for j in range(len(out) - 1, -1, -1) if out[j] in targets), None)
        if hit is None:
            return None
        if ch == "6" and out[hit] == "a":
            out[hit] = "â"
        elif ch == "8":
            out[hit] = "ă"
        if ch in "6789" or (i + 1 < len(token) and token[i + 1].isalpha()):
            strong = True
    decoded = _finish("".join(out))
    if decoded is None:
        return None
    return decoded, STRONG if strong else WEAK


def decode(token: str) -> tuple[str, int] | None:
    """Decode one folded token typed in Telex or VNI.

    Returns ``(syllable, strength)`` when the token carries keyboard evidence and
    its decode is a valid syllable, else None. Strength is :data:`STRONG` for
    evidence no plain word has (dd, aw/ow/uw, a doubled vowel plus a tone letter,
    a VNI digit between letters or 6-9) and :data:`WEAK` for the rest (a tone
    letter, trailing tone digits, a doubled vowel, a bare w).
    """
    if not token or token in _STOPLIST or token[0] == "w":
        return None  # leading w is teencode for qu ("wa")
    if any(ch.isdigit() for ch in token):
        return _vni(token)
    return _telex(token)


def repair(tokens: list[str]) -> list[str]:
    """Decode Telex/VNI residue in folded ``tokens`` when the message as a whole has it.

    A *candidate* is a token that is not a syllable as typed but decodes to one.
    Strong candidates count 2, weak ones 1; at 2 or more every token with keyboard
    evidence is decoded (also "khoong" -> "khong", valid as typed), otherwise
    ``tokens`` come back unchanged. Decoded tokens carry no evidence, so a second
    pass finds no candidate and changes nothing: :func:`normalize` stays idempotent.
    """
    if not _MAYBE_RE.search(" ".join(tokens)):
        return tokens
    decoded = [decode(t) for t in tokens]
    score = sum(
        d[1] for t, d in zip(tokens, decoded, strict=True) if d is not None and not is_syllable(t)
    )
    if score < 2:
        return tokens
    return [t if d is None else d[0] for t, d in zip(tokens, decoded, strict=True)]
