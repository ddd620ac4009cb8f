"""Message understanding: safety triage first, then retrieval.

``Understander(kb).understand(text)`` returns one intent from the contract
(``knowledge/spec/topics.md``) and, for guidance, a topic and the best entry.
A low retrieval score still yields ``guidance`` (with ``confident=False``, so
the conversation can offer the closest topics as buttons); only when nothing
in the knowledge base resembles the message is it ``fallback``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge.models import KnowledgeBase
from knowledge.normalize import normalize
from knowledge.search import Hit, KnowledgeIndex
from knowledge.triage import triage

__all__ = ["CONFIDENT_SCORE", "MIN_SCORE", "OUT_OF_DOMAIN_SCORE", "Understander", "Understanding", "in_domain"]

# Calibrated on tests/data/eval_dev.jsonl: below MIN_SCORE the best entry shares
# too little with the message to be on topic; a message with no child-protection
# word at all needs OUT_OF_DOMAIN_SCORE (out-of-scope questions share only
# function words such as "hôm nay", "thế nào" with the knowledge base).
MIN_SCORE = 0.15
OUT_OF_DOMAIN_SCORE = 0.28
CONFIDENT_SCORE = 0.4


@dataclass(frozen=True, slots=True)
class Understanding:
    """What a message is about. ``topic``/``entry_id`` are set for guidance only."""

    intent: str
    topic: str | None = None
    entry_id: str | None = None
    score: float = 0.0
    confident: bool = False
    hits: list[Hit] = field(default_factory=list)
    normalized: str = ""
    reasons: tuple[str, ...] = ()

    def top_topics(self, n: int = 3) -> list[str]:
        """The ``n`` best distinct topics among the hits (for "did you mean" buttons)."""
        return [topic for topic, _score in KnowledgeIndex.topic_scores(self.hits)][:n]


# Topics whose questions describe harm done to a child.
HARM_TOPICS = frozenset({
    "abuse_signs", "disclosure_response", "domestic_violence", "school_violence",
    "online_grooming", "cyberbullying", "trafficking", "child_labour", "child_marriage",
})
_EVENT = frozenset({"concrete-person", "victim-voice", "time-aspect", "narrative", "agent-act"})
_GENERIC = frozenset({"knowledge-question", "conditional", "generic-child", "leading-question"})
_HARM = frozenset({"harm", "harm-passive", "harm-word", "bi-event", "danger-event"})


# Topics where a concrete event happening now is an emergency.
URGENT_TOPICS = frozenset({"drowning_first_aid", "trafficking", "mental_health"})


def _urgent(topic: str, reasons: tuple[str, ...]) -> bool:
    found = set(reasons)
    if topic == "drowning_first_aid":
        return True  # first aid for a child who is in or was just pulled out of the water
    if topic == "mental_health":
        return "now" in found and "victim-voice" in found or "suicidal-words" in found
    return "now" in found or "danger-event" in found


_QUESTION_END = re.compile(r"\b(?:khong|chua|gi|sao|nao|dau|ai|the|vay|ha|hong|a|nhi|duoc)$")


def _tells_an_event(reasons: tuple[str, ...], norm: str = "", raw: str = "") -> bool:
    """Triage saw a concrete person and a time/aspect or narrative, and no question frame.

    A statement (not a question) with any anchor is also an event: people who
    tell of abuse rarely phrase it as a question about the topic.
    """
    found = set(reasons)
    if found & _GENERIC:
        return False
    if len(found & _EVENT) >= 2 or bool(found & _EVENT and found & _HARM):
        return True
    statement = len(norm.split()) >= 4 and "?" not in raw and _QUESTION_END.search(norm) is None
    return statement and bool(found & (_EVENT | _HARM))


class Understander:
    """Triage + retrieval over one knowledge base. Build once, reuse for every message."""

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        min_score: float = MIN_SCORE,
        confident_score: float = CONFIDENT_SCORE,
        k: int = 8,
    ) -> None:
        self.kb = kb
        self.index = KnowledgeIndex(kb.entries)
        self.min_score = min_score
        self.confident_score = confident_score
        self.k = k

    def understand(self, text: str) -> Understanding:
        norm = normalize(text)
        safety = triage(text)
        if safety.intent is not None:
            return Understanding(
                intent=safety.intent,
                score=safety.score,
                confident=True,
                normalized=norm,
                reasons=safety.reasons,
            )
        hits = self.index.search(norm, k=self.k, normalized=True)
        floor = self.min_score if in_domain(norm) else max(self.min_score, OUT_OF_DOMAIN_SCORE)
        if not hits or hits[0].score < floor:
            found = set(safety.reasons)
            if found & _HARM and found & _EVENT and not found & _GENERIC:
                # Nothing in the knowledge base looks like it, but triage saw harm to
                # a concrete child: never answer that with the generic menu.
                return Understanding(
                    intent="disclosure", score=safety.score, normalized=norm,
                    reasons=(*safety.reasons, "harm-event-unmatched"),
                )
            return Understanding(
                intent="fallback",
                score=hits[0].score if hits else 0.0,
                hits=hits,
                normalized=norm,
                reasons=safety.reasons,
            )
        topic, _topic_score = KnowledgeIndex.topic_scores(hits)[0]
        best = next(h for h in hits if h.topic == topic)
        if topic in URGENT_TOPICS and _tells_an_event(safety.reasons) and _urgent(topic, safety.reasons):
            # A concrete child, now, in a drowning / missing-child / self-harm situation.
            return Understanding(
                intent="emergency",
                score=best.score,
                confident=False,
                hits=hits,
                normalized=norm,
                reasons=(*safety.reasons, f"event-about-{topic}"),
            )
        if topic in HARM_TOPICS and _tells_an_event(safety.reasons, norm, text):
            # Triage found a concrete event but no harm word it knows; the knowledge
            # base says the message is about abuse: believe it is a disclosure.
            return Understanding(
                intent="disclosure",
                score=best.score,
                confident=False,
                hits=hits,
                normalized=norm,
                reasons=(*safety.reasons, f"event-about-{topic}"),
            )
        return Understanding(
            intent="guidance",
            topic=topic,
            entry_id=best.entry_id,
            score=best.score,
            confident=best.score >= self.confident_score,
            hits=hits,
            normalized=norm,
            reasons=safety.reasons,
        )


# Words and phrases that tie a message to child protection. A weak retrieval
# score without any of them means the message is out of scope ("giá vàng hôm nay").
_DOMAIN_PHRASES = (
    "tre|be|chau|em|con|thieu nhi|vi thanh nien|hoc sinh|hs|lop|truong hoc|tuoi|co giao|thay giao|"
    "giao vien|bo me|cha me|phu huynh|gia dinh|ong ba|nguoi la|ban be|"
    "xam hai|bao luc|bao hanh|bat nat|danh|sam so|dam o|hiep|vung kin|cho kin|bi mat|so vao|"
    "duoi nuoc|boi|phao|gieng|suoi|cuu|so cuu|an toan|nguy hiem|tai nan|bong|nga|dien giat|ngo doc|"
    "mu bao hiem|mang xa hoi|facebook|zalo|tiktok|game|dien thoai|mat khau|tai khoan|online|"
    "111|113|115|to giac|bao tin|cong an|can bo|ubnd|tong dai|ho so|tao hon|ket hon|lay chong|"
    "lao dong|lam thue|buon ban nguoi|mua ban nguoi|bat coc|mat tich|tam ly|tram cam|tu tu|lo au|"
    "cang thang|quyen|luat tre em|ho tro|tro giup|phap ly|giam dinh|ky nang|day|nuoi"
)
_DOMAIN = re.compile(r"\b(?:" + _DOMAIN_PHRASES + r")\b")


def in_domain(norm: str) -> bool:
    """Whether normalised text uses any child-protection word or phrase."""
    return _DOMAIN.search(norm) is not None
