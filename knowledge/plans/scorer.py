"""Compare an imported plan with a hand-annotated expectation (fuzzy, one-to-one)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from rapidfuzz import fuzz

__all__ = ["normalise", "score"]

UNIT_THRESHOLD = 85.0
TASK_THRESHOLD = 85.0
TASK_PREFIX = 100


def normalise(text: str) -> str:
    """Lower case, NFC, punctuation to spaces, "uỷ" spelled "ủy", single spaces."""
    text = unicodedata.normalize("NFC", text).lower().replace("uỷ", "ủy").replace("hoá", "hóa")
    text = re.sub(r"^(?:đề nghị|giao)\s+", "", text)
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


def _unit_similarity(actual: str, names: Sequence[str]) -> float:
    a = normalise(actual)
    best = 0.0
    for name in names:
        e = normalise(name)
        sim = fuzz.ratio(a, e)
        if min(len(a.split()), len(e.split())) >= 2:
            sim = max(sim, fuzz.token_set_ratio(a, e) - 5)
        best = max(best, sim)
    return best


def _task_similarity(actual: str, expected: str) -> float:
    e = normalise(expected)[:TASK_PREFIX]
    a = normalise(actual)[: max(len(e), 20)]
    return fuzz.ratio(a, e)


def _match(
    n_actual: int, n_expected: int, sim: Callable[[int, int], float], threshold: float
) -> list[tuple[int, int]]:
    """Greedy one-to-one matching, best pairs first."""
    pairs = []
    for i in range(n_actual):
        for j in range(n_expected):
            s = sim(i, j)
            if s >= threshold:
                pairs.append((s, i, j))
    pairs.sort(reverse=True)
    used_a: set[int] = set()
    used_e: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i not in used_a and j not in used_e:
            used_a.add(i)
            used_e.add(j)
            out.append((i, j))
    return out


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def _same_date(actual: str, expected: str, year: int | None) -> bool:
    """``--MM-DD`` equals ``YYYY-MM-DD`` of the plan's year (the year may be filled in)."""
    if actual == expected:
        return True
    a_md, e_md = actual[-5:], expected[-5:]
    if a_md != e_md:
        return False
    years = {x[:4] for x in (actual, expected) if not x.startswith("-")}
    return not years or year is None or years == {str(year)}


def score(actual: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """Recall/precision of units and tasks, recall of reporting deadlines.

    Units match on normalised names (the expected ``aliases`` count too); tasks match
    on the first ~100 characters of normalised text, over the whole plan.
    """
    a_units = actual.get("units", [])
    e_units = expected.get("units", [])
    e_names = [[u["name"], *u.get("aliases", [])] for u in e_units]
    unit_pairs = _match(
        len(a_units),
        len(e_units),
        lambda i, j: _unit_similarity(a_units[i]["name"], e_names[j]),
        UNIT_THRESHOLD,
    )

    a_tasks = [t["text"] for u in a_units for t in u.get("tasks", [])]
    e_tasks = [t["text"] for u in e_units for t in u.get("tasks", [])]
    task_pairs = _match(
        len(a_tasks),
        len(e_tasks),
        lambda i, j: _task_similarity(a_tasks[i], e_tasks[j]),
        TASK_THRESHOLD,
    )

    year = expected.get("year")
    e_dl = expected.get("reporting_deadlines", [])
    a_dates = [d["date"] for d in actual.get("reporting_deadlines", [])]
    found = sum(1 for d in e_dl if any(_same_date(a, d["date"], year) for a in a_dates))

    matched_e_tasks = {j for _, j in task_pairs}
    return {
        "unit_recall": _ratio(len(unit_pairs), len(e_units)),
        "unit_precision": _ratio(len(unit_pairs), len(a_units)),
        "task_recall": _ratio(len(task_pairs), len(e_tasks)),
        "task_precision": _ratio(len(task_pairs), len(a_tasks)),
        "reporting_deadline_recall": _ratio(found, len(e_dl)),
        "missed_units": [
            e_units[j]["name"] for j in range(len(e_units)) if j not in {p[1] for p in unit_pairs}
        ],
        "extra_units": [
            a_units[i]["name"] for i in range(len(a_units)) if i not in {p[0] for p in unit_pairs}
        ],
        "missed_tasks": [e_tasks[j][:80] for j in range(len(e_tasks)) if j not in matched_e_tasks],
        "extra_tasks": [
            a_tasks[i][:80] for i in range(len(a_tasks)) if i not in {p[0] for p in task_pairs}
        ],
    }
