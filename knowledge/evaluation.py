"""Evaluate an understander on labelled rows ``{"text", "intent", "topic", "alt_topics"}``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from knowledge.topics import INTENTS, SAFETY_INTENTS

__all__ = ["TARGETS", "EvalReport", "Misclassified", "evaluate", "read_jsonl"]

# Acceptance targets from issue #3.
TARGETS: dict[str, tuple[str, float]] = {
    "intent_accuracy": (">=", 0.95),
    "topic_top1": (">=", 0.90),
    "safety_recall": (">=", 0.99),
    "false_alarm_rate": ("<=", 0.05),
}
# Guidance, small talk and fallback rows classed as a safety intent are false alarms.
_HARMLESS = frozenset({"guidance", "smalltalk", "fallback"})


class _Understanding(Protocol):
    intent: str
    topic: str | None

    def top_topics(self, n: int = 3) -> list[str]: ...


class _Understander(Protocol):
    def understand(self, text: str) -> _Understanding: ...


@dataclass(frozen=True, slots=True)
class Misclassified:
    text: str
    expected: str
    got: str
    kind: str  # "intent" or "topic"


@dataclass
class EvalReport:
    total: int = 0
    intent_correct: int = 0
    guidance_total: int = 0
    topic_top1: int = 0
    topic_top3: int = 0
    safety_total: int = 0
    safety_found: int = 0
    harmless_total: int = 0
    false_alarms: int = 0
    per_intent: Counter[str] = field(default_factory=Counter)
    per_intent_correct: Counter[str] = field(default_factory=Counter)
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    topic_confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: list[Misclassified] = field(default_factory=list)

    @staticmethod
    def _ratio(num: int, den: int) -> float:
        return num / den if den else 1.0

    @property
    def intent_accuracy(self) -> float:
        return self._ratio(self.intent_correct, self.total)

    @property
    def topic_top1_rate(self) -> float:
        return self._ratio(self.topic_top1, self.guidance_total)

    @property
    def topic_top3_rate(self) -> float:
        return self._ratio(self.topic_top3, self.guidance_total)

    @property
    def safety_recall(self) -> float:
        return self._ratio(self.safety_found, self.safety_total)

    @property
    def false_alarm_rate(self) -> float:
        return self._ratio(self.false_alarms, self.harmless_total) if self.harmless_total else 0.0

    def metrics(self) -> dict[str, float]:
        return {
            "intent_accuracy": self.intent_accuracy,
            "topic_top1": self.topic_top1_rate,
            "topic_top3": self.topic_top3_rate,
            "safety_recall": self.safety_recall,
            "false_alarm_rate": self.false_alarm_rate,
        }

    def failed_targets(self) -> list[str]:
        metrics = self.metrics()
        failed = []
        for name, (op, target) in TARGETS.items():
            value = metrics[name]
            ok = value >= target if op == ">=" else value <= target
            if not ok:
                failed.append(name)
        return failed

    @property
    def meets_targets(self) -> bool:
        return not self.failed_targets()

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            **{k: round(v, 4) for k, v in self.metrics().items()},
            "targets": {k: f"{op} {t}" for k, (op, t) in TARGETS.items()},
            "meets_targets": self.meets_targets,
            "per_intent": {
                i: {"total": self.per_intent[i], "correct": self.per_intent_correct[i]}
                for i in INTENTS
                if self.per_intent[i]
            },
            "confusions": [
                {"expected": e, "got": g, "count": n} for (e, g), n in self.confusions.most_common()
            ],
            "topic_confusions": [
                {"expected": e, "got": g, "count": n}
                for (e, g), n in self.topic_confusions.most_common()
            ],
            "errors": [
                {"text": m.text, "expected": m.expected, "got": m.got, "kind": m.kind}
                for m in self.errors
            ],
        }

    def format_table(self, *, show_errors: int = 20) -> str:
        metrics = self.metrics()
        lines = [f"{'metric':<20} {'value':>8}  target", "-" * 40]
        for name, value in metrics.items():
            op, target = TARGETS.get(name, ("", None))
            mark = ""
            if target is not None:
                ok = value >= target if op == ">=" else value <= target
                mark = f"{op} {target:.2f}  {'ok' if ok else 'MISSED'}"
            lines.append(f"{name:<20} {value:>8.3f}  {mark}")
        lines += ["", f"{'intent':<12} {'n':>5} {'correct':>8} {'recall':>7}", "-" * 36]
        for intent in INTENTS:
            n = self.per_intent[intent]
            if n:
                c = self.per_intent_correct[intent]
                lines.append(f"{intent:<12} {n:>5} {c:>8} {c / n:>7.3f}")
        if self.confusions:
            lines += ["", "intent confusions (expected -> got: count)"]
            lines += [f"  {e} -> {g}: {n}" for (e, g), n in self.confusions.most_common()]
        if self.topic_confusions:
            lines += ["", "topic confusions (expected -> got: count)"]
            lines += [f"  {e} -> {g}: {n}" for (e, g), n in self.topic_confusions.most_common(10)]
        if show_errors and self.errors:
            lines += ["", f"misclassified (first {show_errors})"]
            lines += [
                f"  [{m.kind}] {m.expected} -> {m.got}: {m.text[:90]}"
                for m in self.errors[:show_errors]
            ]
        return "\n".join(lines)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file (blank lines skipped)."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def evaluate(rows: Iterable[dict[str, Any]], understander: _Understander) -> EvalReport:
    """Run ``understander`` over labelled rows and collect the metrics."""
    report = EvalReport()
    for row in rows:
        text, expected = row["text"], row["intent"]
        result = understander.understand(text)
        got = result.intent
        report.total += 1
        report.per_intent[expected] += 1
        if got == expected:
            report.intent_correct += 1
            report.per_intent_correct[expected] += 1
        else:
            report.confusions[(expected, got)] += 1
            report.errors.append(Misclassified(text, expected, got, "intent"))
        if expected in SAFETY_INTENTS:
            report.safety_total += 1
            report.safety_found += got in SAFETY_INTENTS
        elif expected in _HARMLESS:
            report.harmless_total += 1
            report.false_alarms += got in SAFETY_INTENTS
        if expected == "guidance":
            gold = {row.get("topic"), *(row.get("alt_topics") or [])} - {None}
            report.guidance_total += 1
            top3 = result.top_topics(3) if got == "guidance" else []
            top1 = result.topic if got == "guidance" else None
            if top1 in gold:
                report.topic_top1 += 1
            else:
                report.topic_confusions[(str(row.get("topic")), str(top1))] += 1
                if got == "guidance":
                    report.errors.append(Misclassified(text, str(row.get("topic")), str(top1), "topic"))
            if gold & set(top3):
                report.topic_top3 += 1
    return report
