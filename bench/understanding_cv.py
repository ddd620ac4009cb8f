"""Cross-validated report of message understanding (rules + learned models).

Run from the repository root::

    PYTHONPATH=. python bench/understanding_cv.py            # leave-one-set-out + random 5-fold
    PYTHONPATH=. python bench/understanding_cv.py --sweep    # also sweep the blend thresholds
    PYTHONPATH=. python bench/understanding_cv.py --write-training   # rebuild the shipped data

The labelled sets (``tests/data/eval_{dev,check,extra,h1..h73}.jsonl``) are the only
messages written by people; the shipped models are trained on all of them, so a
figure measured on any of them with the shipped models is a *training* figure.
The honest figures are the ones printed here: for each fold the models are
trained on the other sets plus the knowledge-base questions and scored on the
held-out set with :func:`knowledge.evaluation.evaluate`.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from knowledge.classifier import TRAINING_FILE, Example  # noqa: E402
from knowledge.evaluation import EvalReport, evaluate, read_jsonl  # noqa: E402
from knowledge.loader import load_knowledge_base  # noqa: E402
from knowledge.models import KnowledgeBase  # noqa: E402
from knowledge.understand import DEFAULT_BLEND, Blend, Models, Signals, Understander  # noqa: E402

DATA = ROOT / "tests" / "data"
SETS = ("dev", "check", "extra", *(f"h{i}" for i in range(1, 74)))
METRICS = ("intent_accuracy", "topic_top1", "safety_recall", "false_alarm_rate")

__all__ = ["Fold", "leave_one_set_out", "load_sets", "random_folds", "run_fold", "write_training"]


def load_sets(data: Path = DATA) -> dict[str, list[dict[str, Any]]]:
    return {name: read_jsonl(data / f"eval_{name}.jsonl") for name in SETS}


def to_examples(rows: Sequence[dict[str, Any]], source: str) -> list[Example]:
    return [Example(r["text"], r["intent"], r.get("topic"), source) for r in rows]


def write_training(sets: dict[str, list[dict[str, Any]]], path: Path = TRAINING_FILE) -> int:
    """Write every labelled row (with its set) as the shipped training data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"text": r["text"], "intent": r["intent"], "topic": r.get("topic"), "source": name},
                   ensure_ascii=False)
        for name in SETS for r in sets[name]
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


@dataclass
class Fold:
    name: str
    train: list[Example]
    test: list[dict[str, Any]]


def leave_one_set_out(sets: dict[str, list[dict[str, Any]]]) -> list[Fold]:
    return [
        Fold(held, [e for name in SETS if name != held for e in to_examples(sets[name], name)], sets[held])
        for held in SETS
    ]


def random_folds(sets: dict[str, list[dict[str, Any]]], k: int = 5, seed: int = 7) -> list[Fold]:
    rows = [(name, r) for name in SETS for r in sets[name]]
    random.Random(seed).shuffle(rows)
    folds = []
    for i in range(k):
        test = [r for j, (_n, r) in enumerate(rows) if j % k == i]
        train = [Example(r["text"], r["intent"], r.get("topic"), n)
                 for j, (n, r) in enumerate(rows) if j % k != i]
        folds.append(Fold(f"random-{i + 1}", train, test))
    return folds


class _Fixed:
    """An understander that replays precomputed signals through one blend."""

    def __init__(self, understander: Understander, signals: dict[str, Signals], blend: Blend) -> None:
        self.understander, self.signals, self.blend = understander, signals, blend

    def understand(self, text: str):  # noqa: ANN201 - the evaluation protocol
        return self.understander.decide(self.signals[text], self.blend)


def run_fold(kb: KnowledgeBase, fold: Fold, blends: Sequence[Blend] = (DEFAULT_BLEND,),
             rules_only: bool = False) -> list[EvalReport]:
    """Train on ``fold.train`` + the KB questions; one report per blend on ``fold.test``."""
    models = Models() if rules_only else Models.train(kb, fold.train)
    understander = Understander(kb, models=models)
    signals = {r["text"]: understander.signals(r["text"], eager=True) for r in fold.test}
    return [evaluate(fold.test, _Fixed(understander, signals, b)) for b in blends]


def _row(name: str, report: EvalReport) -> str:
    m = report.metrics()
    return f"{name:<12} {report.total:>5} " + " ".join(f"{m[k]:>9.3f}" for k in METRICS)


def _summary(reports: Sequence[EvalReport]) -> dict[str, tuple[float, float]]:
    out = {}
    for k in METRICS:
        values = [r.metrics()[k] for r in reports]
        worst = max(values) if k == "false_alarm_rate" else min(values)
        out[k] = (statistics.fmean(values), worst)
    return out


def _print_protocol(title: str, folds: list[Fold], reports: list[EvalReport]) -> None:
    print(f"\n{title}")
    print(f"{'fold':<12} {'n':>5} " + " ".join(f"{k[:9]:>9}" for k in METRICS))
    for fold, report in zip(folds, reports, strict=True):
        print(_row(fold.name, report))
    summary = _summary(reports)
    print(f"{'mean':<18} " + " ".join(f"{summary[k][0]:>9.3f}" for k in METRICS))
    print(f"{'worst':<18} " + " ".join(f"{summary[k][1]:>9.3f}" for k in METRICS))


def _score(reports: Sequence[EvalReport]) -> float:
    """One number for the sweep: every fold's misses against the targets, weighted."""
    total = 0.0
    for r in reports:
        m = r.metrics()
        total += (m["intent_accuracy"] + m["topic_top1"] + 2 * m["safety_recall"]
                  - 2 * max(0.0, m["false_alarm_rate"] - 0.04))
    return total / len(reports)


def _sweep_grid() -> list[Blend]:
    grid = []
    for st in (0.25, 0.3, 0.35, 0.4, 0.5):
        for veto in (0.08, 0.15, 0.25):
            for harmless in (0.0, 0.1, 0.2):
                for weak in (0.4, 0.5, 0.6, 0.8):
                    for qm in (0.0, 0.1, 0.2):
                        grid.append(Blend(safety_threshold=st, veto_below=veto, harmless_question_margin=harmless,
                                          weak_other_threshold=weak, question_margin=qm))
    return grid


def latency(kb: KnowledgeBase, texts: Sequence[str]) -> tuple[float, float, float]:
    """Start-up (training) seconds, and p50 / p99 milliseconds per message."""
    start = time.perf_counter()
    understander = Understander(kb)
    startup = time.perf_counter() - start
    times = []
    for _ in range(3):
        for text in texts:
            t = time.perf_counter()
            understander.understand(text)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return startup, times[len(times) // 2], times[int(len(times) * 0.99)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", action="store_true", help="sweep the blend thresholds")
    parser.add_argument("--write-training", action="store_true", help="rebuild knowledge/training")
    parser.add_argument("--no-random", action="store_true", help="skip the random 5-fold protocol")
    args = parser.parse_args(argv)
    sets = load_sets()
    if args.write_training:
        print(f"wrote {write_training(sets)} rows to {TRAINING_FILE}")
        return 0
    kb = load_knowledge_base()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    loso = leave_one_set_out(sets)
    rules = [run_fold(kb, f, rules_only=True)[0] for f in loso]
    _print_protocol("rules only (no learning), per set", loso, rules)
    blends = _sweep_grid() if args.sweep else [DEFAULT_BLEND]
    per_fold = [run_fold(kb, f, blends) for f in loso]
    folds = [] if args.no_random else random_folds(sets)
    per_random = [run_fold(kb, f, blends) for f in folds]
    if args.sweep:
        def both(i: int) -> float:
            return _score([r[i] for r in per_fold]) + _score([r[i] for r in per_random] or [per_fold[0][i]])

        for i in sorted(range(len(blends)), key=lambda i: -both(i))[:8]:
            for label, reports in (("loso", per_fold), ("random", per_random)):
                if reports:
                    summary = _summary([r[i] for r in reports])
                    print(label, blends[i], "mean", {k: round(v[0], 3) for k, v in summary.items()},
                          "worst", {k: round(v[1], 3) for k, v in summary.items()})
    chosen = blends.index(DEFAULT_BLEND) if DEFAULT_BLEND in blends else 0
    _print_protocol(f"rules + models, leave-one-set-out ({DEFAULT_BLEND})", loso,
                    [r[chosen] for r in per_fold])
    if folds:
        _print_protocol("rules + models, random 5-fold over the union", folds,
                        [r[chosen] for r in per_random])
    texts = [r["text"] for name in SETS for r in sets[name]]
    startup, p50, p99 = latency(kb, texts)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\nstart-up (training) {startup:.2f}s; latency p50 {p50:.3f} ms, p99 {p99:.3f} ms; "
          f"max RSS {rss1 / 1024:.0f} MB (before the models {rss0 / 1024:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
