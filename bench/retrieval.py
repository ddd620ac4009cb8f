"""Retrieval benchmark: topic accuracy and latency of bvte vs two baselines.

Run from the repository root::

    PYTHONPATH=. python bench/retrieval.py [--dev tests/data/eval_dev.jsonl] [--size 10000]

Systems compared on the guidance rows of the dev set (topic top-1, a topic in
``alt_topics`` counts):

* ``bvte``: ``knowledge.search.KnowledgeIndex`` (BM25 over folded syllables and
  bigrams, title + questions + answer, rapidfuzz re-ranking of the candidates);
* ``wratio-raw``: rapidfuzz ``WRatio`` of the raw message against every raw,
  un-normalised example question (best question wins);
* ``bm25-folded``: plain BM25 over diacritic-folded syllables of the questions.

Latency is measured per message (p50/p99) on the real knowledge base and on a
synthetic one of ``--size`` entries made by recombining real questions.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from knowledge.evaluation import read_jsonl  # noqa: E402
from knowledge.loader import load_knowledge_base  # noqa: E402
from knowledge.models import Entry  # noqa: E402
from knowledge.normalize import fold, normalize  # noqa: E402
from knowledge.search import KnowledgeIndex  # noqa: E402

TARGET_TOP1 = 0.90
TARGET_P99_REAL_MS = 2.0
TARGET_P99_LARGE_MS = 20.0

Ranker = Callable[[str], list[str]]  # message -> topics, best first


class WRatioRaw:
    """Baseline 1: rapidfuzz WRatio over raw example questions."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.questions = [q for e in entries for q in e.questions]
        self.topics = [e.topic for e in entries for _q in e.questions]

    def __call__(self, text: str) -> list[str]:
        found = process.extract(text, self.questions, scorer=fuzz.WRatio, limit=10)
        return list(dict.fromkeys(self.topics[i] for _q, _s, i in found))


class BM25Folded:
    """Baseline 2: BM25 over folded syllables of each entry's questions."""

    def __init__(self, entries: Sequence[Entry], k1: float = 1.2, b: float = 0.75) -> None:
        self.topics = [e.topic for e in entries]
        docs = [" ".join(fold(q) for q in e.questions).split() for e in entries]
        n = len(docs)
        avgdl = sum(map(len, docs)) / max(1, n)
        df: dict[str, int] = defaultdict(int)
        for doc in docs:
            for t in set(doc):
                df[t] += 1
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, doc in enumerate(docs):
            tf: dict[str, int] = defaultdict(int)
            for t in doc:
                tf[t] += 1
            for t, c in tf.items():
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                w = idf * c * (k1 + 1) / (c + k1 * (1 - b + b * len(doc) / avgdl))
                self.postings[t].append((i, w))

    def __call__(self, text: str) -> list[str]:
        scores: dict[int, float] = defaultdict(float)
        for t in set(fold(text).split()):
            for i, w in self.postings.get(t, ()):
                scores[i] += w
        best = sorted(scores, key=scores.__getitem__, reverse=True)[:10]
        return list(dict.fromkeys(self.topics[i] for i in best))


class Bvte:
    def __init__(self, entries: Sequence[Entry]) -> None:
        self.index = KnowledgeIndex(entries)

    def __call__(self, text: str) -> list[str]:
        return [t for t, _s in self.index.topic_scores(self.index.search(text, k=8))]


def top1(ranker: Ranker, rows: list[dict]) -> float:
    good = 0
    for row in rows:
        ranked = ranker(row["text"])
        good += bool(ranked) and ranked[0] in {row["topic"], *(row.get("alt_topics") or [])}
    return good / max(1, len(rows))


def latency(ranker: Ranker, texts: list[str], repeat: int = 3) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        for text in texts:
            normalize.cache_clear()  # measure the full path, not the memoised normaliser
            start = time.perf_counter()
            ranker(text)
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def synthetic(entries: Sequence[Entry], size: int, seed: int = 7) -> list[Entry]:
    """``size`` entries whose questions recombine halves of real questions."""
    rng = random.Random(seed)
    questions = [q for e in entries for q in e.questions]
    out = []
    for i in range(size):
        base = entries[i % len(entries)]
        qs = []
        for _ in range(8):
            a, b = rng.sample(questions, 2)
            wa, wb = a.split(), b.split()
            qs.append(" ".join(wa[: max(1, len(wa) // 2)] + wb[len(wb) // 2 :]))
        out.append(base.model_copy(update={"id": f"{base.topic.replace('_', '-')}-syn-{i}", "questions": tuple(qs)}))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=ROOT / "tests" / "data" / "eval_dev.jsonl")
    parser.add_argument("--size", type=int, default=10_000)
    args = parser.parse_args(argv)

    kb = load_knowledge_base()
    rows = [r for r in read_jsonl(args.dev) if r["intent"] == "guidance"]
    texts = [r["text"] for r in read_jsonl(args.dev)]
    print(f"knowledge base: {len(kb)} entries; dev guidance rows: {len(rows)}")

    systems: dict[str, Callable[[Sequence[Entry]], Ranker]] = {
        "bvte": Bvte,
        "wratio-raw": WRatioRaw,
        "bm25-folded": BM25Folded,
    }
    print(f"\n{'system':<13} {'top1':>6}   {'p50 ms':>7} {'p99 ms':>7}   (target top1 >= {TARGET_TOP1}, p99 <= {TARGET_P99_REAL_MS} ms)")
    real: dict[str, float] = {}
    for name, make in systems.items():
        ranker = make(kb.entries)
        p50, p99 = latency(ranker, texts)
        real[name] = p99
        print(f"{name:<13} {top1(ranker, rows):>6.3f}   {p50:>7.3f} {p99:>7.3f}")

    big = synthetic(kb.entries, args.size)
    print(f"\nsynthetic knowledge base: {len(big)} entries (target p99 <= {TARGET_P99_LARGE_MS} ms for bvte)")
    large: dict[str, float] = {}
    for name in ("bvte", "bm25-folded"):
        start = time.perf_counter()
        ranker = systems[name](big)
        built = time.perf_counter() - start
        p50, p99 = latency(ranker, texts, repeat=1)
        large[name] = p99
        print(f"{name:<13} build {built:>6.2f} s   p50 {p50:>7.3f} ms   p99 {p99:>7.3f} ms")
    print(
        f"\np99 ratio bvte / bm25-folded: real {real['bvte'] / real['bm25-folded']:.1f}x, "
        f"{len(big)} entries {large['bvte'] / large['bm25-folded']:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
