"""Learned understanding components: the models, the shipped data, and held-out floors.

The shipped models are trained on every labelled set (tests/data/eval_*.jsonl, copied
into knowledge/training/intent_examples.jsonl) plus the knowledge-base questions, so
the target tests in test_evaluation.py measure TRAINING data. The honest figures are
the cross-validated ones (bench/understanding_cv.py); the leave-one-set-out test below
asserts they do not fall under the floors measured when the models were introduced.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from knowledge.classifier import (
    TRAINING_FILE,
    Example,
    NaiveBayesModel,
    SoftmaxModel,
    features,
    load_examples,
    topic_features,
)
from knowledge.normalize import normalize
from knowledge.triage import triage

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
# The labelled sets, in the order bench/understanding_cv.py writes them to knowledge/training.
SETS = ("dev", "check", "extra", "h1", "h2", "h3", "h4")

TOY = [
    ("con tôi bị đánh", "bad"), ("bố đánh em", "bad"), ("em bị bạn đánh hội đồng", "bad"),
    ("cách dạy con học bơi", "good"), ("mấy tuổi cho bé học bơi", "good"), ("áo phao loại nào", "good"),
]


def _data(rules: bool = False) -> list[tuple[list[str], str]]:
    return [(features(normalize(t), triage(t) if rules else None), y) for t, y in TOY]


def test_features_are_words_bigrams_chars_and_rules() -> None:
    feats = features("con bi danh", triage("con bị đánh"))
    assert {"w:con", "b:bi_danh", "c: con", "bias"} <= set(feats)
    assert any(f.startswith("t:") for f in feats) and any(f.startswith("r:") for f in feats)
    assert len(feats) == len(set(feats))
    assert "c: co" not in topic_features("con bi danh")  # 4-grams only
    assert "c: con" in topic_features("con bi danh")


@pytest.mark.parametrize("model", [SoftmaxModel(["bad", "good"]), NaiveBayesModel(["bad", "good"])])
def test_models_learn_a_toy_split(model) -> None:
    model.fit(_data())
    for text, label in [("mẹ đánh con", "bad"), ("con muốn học bơi", "good")]:
        proba = model.proba_features(features(normalize(text)))
        assert max(proba, key=proba.get) == label, (text, proba)
        assert sum(proba.values()) == pytest.approx(1.0)


def test_shipped_training_data_is_the_labelled_sets() -> None:
    """knowledge/training must be rebuilt (bench/understanding_cv.py --write-training)
    whenever a labelled set changes, or the shipped models drift from the data."""
    shipped = [(e.text, e.intent, e.topic, e.source) for e in load_examples()]
    expected = []
    for name in SETS:
        with (DATA / f"eval_{name}.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    row = json.loads(line)
                    expected.append((row["text"], row["intent"], row.get("topic"), name))
    assert shipped == expected
    assert TRAINING_FILE.parent.name == "training"
    assert all(isinstance(e, Example) for e in load_examples())


@pytest.fixture(scope="module")
def kb():
    from knowledge.loader import load_knowledge_base

    return load_knowledge_base()


def test_guidance_entry_is_within_the_chosen_topic(kb) -> None:
    from knowledge.understand import Understander

    understander = Understander(kb)
    for text in ["cho con học bơi mấy tuổi", "dạy con quy tắc đồ lót", "gọi 111 có mất tiền không",
                 "tảo hôn là gì", "con nghiện game phải làm sao"]:
        u = understander.understand(text)
        assert u.intent == "guidance", (text, u)
        assert kb.by_id[u.entry_id].topic == u.topic
        assert u.top_topics(3)[0] == u.topic


def test_rules_alone_still_work(kb) -> None:
    from knowledge.understand import Models, Understander

    understander = Understander(kb, models=Models())
    assert understander.understand("cứu con với").intent == "emergency"
    assert understander.understand("chào bạn").intent == "smalltalk"


# Held-out floors (leave-one-set-out over the labelled sets with the default blend, minus a
# margin of ~0.03 for knowledge-base edits; ceilings for false alarms plus ~0.03). Measured
# 2026-11-23: dev 0.997/0.990/1.000/0.000, check 0.988/0.920/1.000/0.017,
# extra 0.974/0.941/0.992/0.004, h1 0.925/0.830/1.000/0.032, h2 0.946/0.907/1.000/0.027.
FLOORS = {
    "dev": {"intent_accuracy": 0.96, "topic_top1": 0.95, "safety_recall": 0.97, "false_alarm_rate": 0.04},
    "check": {"intent_accuracy": 0.95, "topic_top1": 0.88, "safety_recall": 0.95, "false_alarm_rate": 0.05},
    "extra": {"intent_accuracy": 0.94, "topic_top1": 0.90, "safety_recall": 0.96, "false_alarm_rate": 0.04},
    "h1": {"intent_accuracy": 0.89, "topic_top1": 0.79, "safety_recall": 0.96, "false_alarm_rate": 0.07},
    "h2": {"intent_accuracy": 0.91, "topic_top1": 0.87, "safety_recall": 0.97, "false_alarm_rate": 0.06},
    # Written after the rules above were tuned, and first measured held out (trained on
    # the other six): h3 0.875/0.859/0.970/0.070, h4 0.897/0.894/0.980/0.066.
    "h3": {"intent_accuracy": 0.84, "topic_top1": 0.82, "safety_recall": 0.94, "false_alarm_rate": 0.10},
    "h4": {"intent_accuracy": 0.86, "topic_top1": 0.86, "safety_recall": 0.95, "false_alarm_rate": 0.10},
}


@pytest.mark.slow
def test_leave_one_set_out_does_not_regress(kb) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.understanding_cv import leave_one_set_out, load_sets, run_fold

    for fold in leave_one_set_out(load_sets()):
        metrics = run_fold(kb, fold)[0].metrics()
        floors = FLOORS[fold.name]
        for name, bound in floors.items():
            if name == "false_alarm_rate":
                assert metrics[name] <= bound, (fold.name, name, metrics)
            else:
                assert metrics[name] >= bound, (fold.name, name, metrics)
