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
SETS = ("dev", "check", "extra", *(f"h{i}" for i in range(1, 74)))

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


# Held-out floors: the models trained on every labelled set but the eight newest (written
# last, by eight writers who never saw the others) and scored on each of those eight, minus a
# margin of 0.03 for knowledge-base edits (false alarms: plus 0.03).
# Measured 2026-12-07: h50 0.945/0.918/1.000/0.044, h51 0.919/0.892/0.987/0.066, h52
# 0.962/0.925/1.000/0.017, h53 0.943/0.897/1.000/0.038, h54 0.945/0.929/1.000/0.004, h55
# 0.943/0.911/1.000/0.030, h56 0.959/0.904/1.000/0.016, h57 0.957/0.866/0.973/0.030. The full
# leave-one-set-out figures (60 trainings, ~25 min on two cores) are
# bench/understanding_cv.py's.
HELD_OUT = tuple(f"h{i}" for i in range(50, 58))
FLOORS = {
    "h50": {"intent_accuracy": 0.91, "topic_top1": 0.89, "safety_recall": 0.97, "false_alarm_rate": 0.074},
    "h51": {"intent_accuracy": 0.89, "topic_top1": 0.86, "safety_recall": 0.96, "false_alarm_rate": 0.096},
    "h52": {"intent_accuracy": 0.93, "topic_top1": 0.90, "safety_recall": 0.97, "false_alarm_rate": 0.047},
    "h53": {"intent_accuracy": 0.91, "topic_top1": 0.87, "safety_recall": 0.97, "false_alarm_rate": 0.068},
    "h54": {"intent_accuracy": 0.91, "topic_top1": 0.90, "safety_recall": 0.97, "false_alarm_rate": 0.034},
    "h55": {"intent_accuracy": 0.91, "topic_top1": 0.88, "safety_recall": 0.97, "false_alarm_rate": 0.060},
    "h56": {"intent_accuracy": 0.93, "topic_top1": 0.87, "safety_recall": 0.97, "false_alarm_rate": 0.046},
    "h57": {"intent_accuracy": 0.93, "topic_top1": 0.84, "safety_recall": 0.94, "false_alarm_rate": 0.060},
}


@pytest.mark.slow
def test_held_out_sets_do_not_regress(kb) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.understanding_cv import SETS as ALL_SETS
    from bench.understanding_cv import load_sets, to_examples
    from knowledge.evaluation import evaluate
    from knowledge.understand import Models, Understander

    sets = load_sets()
    train = [e for name in ALL_SETS if name not in HELD_OUT for e in to_examples(sets[name], name)]
    understander = Understander(kb, models=Models.train(kb, train))
    for name in HELD_OUT:
        metrics = evaluate(sets[name], understander).metrics()
        for metric, bound in FLOORS[name].items():
            if metric == "false_alarm_rate":
                assert metrics[metric] <= bound, (name, metric, metrics)
            else:
                assert metrics[metric] >= bound, (name, metric, metrics)
