"""Retrieval basics on a small hand-made knowledge base."""

from __future__ import annotations

from datetime import date

from knowledge.models import Entry, KnowledgeBase
from knowledge.search import KnowledgeIndex, terms
from knowledge.understand import Understander


def make(id_: str, topic: str, title: str, questions: list[str], answer: str = "Gọi 111.") -> Entry:
    return Entry(id=id_, topic=topic, audience="parent", title=title, answer=answer,
                 questions=tuple(questions), sources=("Luật Trẻ em 2016",), reviewed=date(2026, 11, 23))


ENTRIES = [
    make("body-safety-underwear-rule", "body_safety", "Quy tắc đồ lót",
         ["quy tắc đồ lót là gì", "vùng kín là chỗ nào", "ai được chạm vào vùng riêng tư",
          "dạy con về vùng kín", "quy tac do lot", "cách dạy bé giữ an toàn cơ thể"]),
    make("drowning-prevention-swim", "drowning_prevention", "Học bơi và áo phao",
         ["mấy tuổi cho con học bơi", "áo phao loại nào tốt", "phòng chống đuối nước mùa hè",
          "trẻ tắm sông có nguy hiểm không", "rào ao nhà thế nào cho an toàn", "hoc boi o dau"]),
    make("reporting-hotline", "reporting", "Gọi 111",
         ["tổng đài 111 là gì", "gọi 111 có mất tiền không", "báo tin xâm hại ở đâu",
          "tố giác có bị lộ tên không", "số điện thoại bảo vệ trẻ em", "bao tin cho ai"]),
]


def test_terms_have_bigrams() -> None:
    assert terms("xam hai tre") == ["xam", "hai", "con", "xam_hai", "hai_con"]


def test_search_ranks_the_right_entry() -> None:
    index = KnowledgeIndex(ENTRIES)
    cases = {
        "quy tắc đồ lót là gì vậy": "body-safety-underwear-rule",
        "cho con hoc boi may tuoi": "drowning-prevention-swim",
        "goi 111 co mat tien ko": "reporting-hotline",
    }
    for query, expected in cases.items():
        hits = index.search(query, k=3)
        assert hits[0].entry_id == expected, (query, hits)
        assert all(0.0 <= h.score <= 1.0 for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_nothing() -> None:
    index = KnowledgeIndex(ENTRIES)
    assert index.search("") == []
    assert index.search("qwerty zzzz") == []


def test_topic_scores_aggregate() -> None:
    index = KnowledgeIndex(ENTRIES)
    ranked = index.topic_scores(index.search("báo tin 111", k=3))
    assert ranked[0][0] == "reporting"


def test_understander_paths() -> None:
    understander = Understander(KnowledgeBase.from_entries(ENTRIES))
    guided = understander.understand("quy tac do lot la gi")
    assert (guided.intent, guided.topic, guided.entry_id) == ("guidance", "body_safety", "body-safety-underwear-rule")
    assert guided.confident
    assert understander.understand("cứu con với").intent == "emergency"
    assert understander.understand("giá vàng hôm nay").intent == "fallback"
    assert understander.understand("asdfgh").intent == "fallback"
    assert understander.understand("chào bạn").intent == "smalltalk"
