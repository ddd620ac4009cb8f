"""Evaluation metrics, and the targets on the labelled sets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.evaluation import EvalReport, evaluate, read_jsonl

DATA = Path(__file__).resolve().parents[1] / "data"


class _Fixed:
    def __init__(self, intent: str, topics: list[str]) -> None:
        self.intent, self.topics = intent, topics
        self.topic = topics[0] if topics else None

    def top_topics(self, n: int = 3) -> list[str]:
        return self.topics[:n]


class _Table:
    def __init__(self, table: dict[str, _Fixed]) -> None:
        self.table = table

    def understand(self, text: str) -> _Fixed:
        return self.table[text]


def test_metrics_on_a_fake_understander() -> None:
    rows = [
        {"text": "a", "intent": "emergency", "topic": None, "alt_topics": []},
        {"text": "b", "intent": "disclosure", "topic": None, "alt_topics": []},
        {"text": "c", "intent": "guidance", "topic": "body_safety", "alt_topics": []},
        {"text": "d", "intent": "guidance", "topic": "reporting", "alt_topics": ["support_services"]},
        {"text": "e", "intent": "smalltalk", "topic": None, "alt_topics": []},
    ]
    fake = _Table({
        "a": _Fixed("disclosure", []),
        "b": _Fixed("guidance", ["abuse_signs"]),
        "c": _Fixed("guidance", ["online_safety", "body_safety"]),
        "d": _Fixed("guidance", ["support_services"]),
        "e": _Fixed("emergency", []),
    })
    report = evaluate(rows, fake)
    assert report.total == 5
    assert report.intent_accuracy == pytest.approx(2 / 5)
    assert report.safety_recall == pytest.approx(1 / 2)
    assert report.false_alarm_rate == pytest.approx(1 / 3)
    assert report.topic_top1_rate == pytest.approx(1 / 2)
    assert report.topic_top3_rate == pytest.approx(1.0)
    assert report.confusions[("emergency", "disclosure")] == 1
    assert not report.meets_targets
    table = report.format_table()
    assert "intent_accuracy" in table and "MISSED" in table
    assert report.as_dict()["total"] == 5


def test_empty_report_is_well_defined() -> None:
    assert EvalReport().as_dict()["intent_accuracy"] == 1.0


@pytest.fixture(scope="module")
def understander():
    from knowledge.loader import CONTENT_ROOT, load_knowledge_base
    from knowledge.understand import Understander

    if not any((CONTENT_ROOT / "vi").glob("*.yaml")):
        pytest.skip("knowledge/content/vi is empty")
    return Understander(load_knowledge_base())


def test_targets_on_dev_set(understander) -> None:
    # eval_dev is TRAINING data of the shipped models (knowledge/training); the honest,
    # held-out figures are asserted in test_classifier.py (leave-one-set-out floors).
    path = DATA / "eval_dev.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    report = evaluate(read_jsonl(path), understander)
    print(report.format_table())
    assert report.intent_accuracy >= 0.95
    assert report.topic_top1_rate >= 0.90
    assert report.safety_recall >= 0.99
    assert report.false_alarm_rate <= 0.05


def test_report_on_check_set(understander) -> None:
    """Printed, not asserted: like every labelled set it is training data of the shipped
    models (its held-out figures come from bench/understanding_cv.py)."""
    path = DATA / "eval_check.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    report = evaluate(read_jsonl(path), understander)
    print(report.format_table(show_errors=0))
    assert report.total > 0


@pytest.mark.xfail(
    strict=False,
    reason="training data of the shipped models, so these are training figures (they usually "
    "pass); the held-out figures are the leave-one-set-out floors in test_classifier.py and "
    "bench/understanding_cv.py",
)
def test_targets_on_extra_set(understander) -> None:
    """The large, diverse set (heavy on emergency/disclosure and hard negatives)."""
    path = DATA / "eval_extra.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    report = evaluate(read_jsonl(path), understander)
    print(report.format_table(show_errors=0))
    assert report.intent_accuracy >= 0.95
    assert report.topic_top1_rate >= 0.90
    assert report.safety_recall >= 0.99
    assert report.false_alarm_rate <= 0.05


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text())
def test_understand_never_raises(understander, text: str) -> None:
    result = understander.understand(text)
    assert result.intent in {"emergency", "disclosure", "report", "guidance", "smalltalk", "fallback"}
    assert (result.topic is None) == (result.intent != "guidance")
