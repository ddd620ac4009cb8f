"""Retrieval over the knowledge base: BM25 candidates, rapidfuzz re-ranking.

Two stages, both over :func:`knowledge.normalize.normalize` text:

1. **Candidates (BM25)** over each entry's title and questions, with syllables
   and syllable bigrams as terms ("xam hai" is one bigram term, which keeps
   Vietnamese two-syllable words together). Term weights are precomputed per
   posting, so a query only sums posting lists. The score is expressed as
   *coverage*: the share of the query's IDF mass an entry matches (unknown
   words count with the highest IDF), which is what tells "giá vàng hôm nay"
   (nothing matches) apart from a real question.
2. **Re-ranking (rapidfuzz)** of the top candidates: the best
   ``token_sort_ratio``/``partial`` match of the query against each of the
   entry's example questions, which rewards phrasings close to a known one.

The final score in [0, 1] blends both (weights measured in ``bench/retrieval.py``).
No I/O at query time; building the index is O(total question length).
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from knowledge.models import Entry
from knowledge.normalize import normalize

__all__ = ["Hit", "KnowledgeIndex", "terms"]

K1 = 1.2
B = 0.75
BIGRAM_WEIGHT = 1.3
ANSWER_WEIGHT = 0.4
CANDIDATES = 12
W_LEXICAL = 0.75
W_FUZZY = 0.25
# Terms found in more than this share of entries add little and cost a lot at scale.
MAX_DF_SHARE = 0.35


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved entry; ``score`` is in [0, 1]."""

    entry_id: str
    topic: str
    score: float


# Words for "the child" are interchangeable for finding the right answer
# ("bé", "trẻ", "cháu" and "con" ask the same question); measured in bench/retrieval.py.
_SAME = {"be": "con", "tre": "con", "chau": "con"}


def terms(norm: str) -> list[str]:
    """Syllables and syllable bigrams of normalised text (child nouns unified)."""
    words = [_SAME.get(w, w) for w in norm.split()]
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]


def _weight(term: str) -> float:
    return BIGRAM_WEIGHT if "_" in term else 1.0


class KnowledgeIndex:
    """In-memory index of entries; :meth:`search` is pure CPU work."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries: tuple[Entry, ...] = tuple(entries)
        self._ids = [e.id for e in self.entries]
        self._topics = [e.topic for e in self.entries]
        self._questions: list[tuple[str, ...]] = []
        docs: list[list[str]] = []
        answers: list[list[str]] = []
        for entry in self.entries:
            texts = [normalize(entry.title), *(normalize(q) for q in entry.questions)]
            self._questions.append(tuple(t for t in dict.fromkeys(texts) if t))
            docs.append([t for text in texts for t in terms(text)])
            answers.append(terms(normalize(entry.answer)) if ANSWER_WEIGHT else [])
        n = max(1, len(docs))
        avgdl = sum(len(d) + ANSWER_WEIGHT * len(a) for d, a in zip(docs, answers, strict=True)) / n
        avgdl = avgdl or 1.0
        df: dict[str, int] = defaultdict(int)
        for doc, answer in zip(docs, answers, strict=True):
            for term in set(doc) | set(answer):
                df[term] += 1
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._max_idf = max(self._idf.values(), default=1.0)
        self._skip = {t for t, c in df.items() if n >= 50 and c / n > MAX_DF_SHARE}
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, (doc, answer) in enumerate(zip(docs, answers, strict=True)):
            # BM25F-style pseudo frequency: the answer text counts, but less than questions.
            tf: dict[str, float] = defaultdict(float)
            for term in doc:
                tf[term] += 1.0
            for term in answer:
                tf[term] += ANSWER_WEIGHT
            norm_len = K1 * (1 - B + B * (len(doc) + ANSWER_WEIGHT * len(answer)) / avgdl)
            for term, count in tf.items():
                # Saturated term frequency relative to its maximum (k1 + 1): in (0, 1].
                sat = count * (K1 + 1) / (count + norm_len) / (K1 + 1)
                postings[term].append((i, self._idf[term] * _weight(term) * sat))
        self._postings = dict(postings)

    def __len__(self) -> int:
        return len(self.entries)

    def _bm25(self, norm: str) -> tuple[dict[int, float], float]:
        """Raw BM25 of every matching entry, and the query's total weight (coverage)."""
        query = list(dict.fromkeys(terms(norm)))
        total = sum(self._idf.get(t, self._max_idf) * _weight(t) for t in query)
        if total <= 0:
            return {}, 0.0
        scores: dict[int, float] = defaultdict(float)
        for term in query:
            if term in self._skip:
                continue
            for doc, weight in self._postings.get(term, ()):
                scores[doc] += weight
        return scores, total

    def lexical(self, norm: str) -> dict[int, float]:
        """Coverage-normalised BM25 of every matching entry (doc index -> [0, 1])."""
        scores, total = self._bm25(norm)
        return {doc: min(1.0, s / total) for doc, s in scores.items()}

    def _fuzzy(self, norm: str, docs: Sequence[int]) -> dict[int, float]:
        """Best fuzzy match of `norm` against each doc's questions, in [0, 1]: the
        best token-sort ratio, or 0.9 × the best partial ratio when that is higher.

        The token-sort ratios come from one rapidfuzz call over all candidates'
        questions (its loop is in C); the costlier partial ratio then only has to
        beat each doc's best so far, which rapidfuzz's score_cutoff prunes early."""
        owner: list[int] = []
        choices: list[str] = []
        for doc in docs:
            questions = self._questions[doc]
            owner.extend([doc] * len(questions))
            choices.extend(questions)
        best = dict.fromkeys(docs, 0.0)
        for _choice, score, index in process.extract(
            norm, choices, scorer=fuzz.token_sort_ratio, processor=None, limit=None
        ):
            doc = owner[index]
            if score > best[doc]:
                best[doc] = score
        if len(norm) >= 12:
            for doc in docs:
                need = best[doc] / 0.9
                if need >= 100:
                    continue
                found = process.extractOne(
                    norm, self._questions[doc], scorer=fuzz.partial_ratio, processor=None,
                    score_cutoff=need,
                )
                if found is not None and 0.9 * found[1] > best[doc]:
                    best[doc] = 0.9 * found[1]
        return {doc: score / 100.0 for doc, score in best.items()}

    def search(self, text: str, k: int = 5, *, normalized: bool = False) -> list[Hit]:
        """The ``k`` best entries for ``text``, best first (score in [0, 1])."""
        norm = text if normalized else normalize(text)
        if not norm:
            return []
        raw, total = self._bm25(norm)
        if not raw:
            return []
        # The candidates by raw score (dividing by the query's total keeps the order), so
        # only they are normalised: a large base matches thousands of entries.
        top = heapq.nlargest(max(k, CANDIDATES), raw, key=raw.__getitem__)
        fuzzy = self._fuzzy(norm, top)
        scored = [(W_LEXICAL * min(1.0, raw[doc] / total) + W_FUZZY * fuzzy[doc], doc) for doc in top]
        scored.sort(reverse=True)
        return [Hit(self._ids[d], self._topics[d], round(s, 4)) for s, d in scored[:k]]

    @staticmethod
    def topic_scores(hits: Sequence[Hit]) -> list[tuple[str, float]]:
        """Aggregate hits per topic: best score plus a small bonus for agreeing hits."""
        per: dict[str, list[float]] = defaultdict(list)
        for hit in hits:
            per[hit.topic].append(hit.score)
        ranked = [
            (topic, min(1.0, max(s) + 0.1 * (sum(s) - max(s)))) for topic, s in per.items()
        ]
        return sorted(ranked, key=lambda item: item[1], reverse=True)
