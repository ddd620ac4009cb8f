"""A parent asking gets the adult entry of the topic when one is close behind."""

from __future__ import annotations

import pytest

from knowledge.loader import load_knowledge_base
from knowledge.understand import Understander


@pytest.fixture(scope="module")
def understander() -> Understander:
    return Understander(load_knowledge_base())


@pytest.mark.parametrize("text", [
    "làm sao để con tôi không bị đuối nước",
    "bo me nen day con tu bao ve than the the nao",
    "phu huynh can lam gi de con an toan tren mang",
])
def test_adult_writer_gets_an_adult_entry(understander: Understander, text: str):
    u = understander.understand(text)
    assert u.intent == "guidance"
    assert understander.kb.by_id[u.entry_id].audience != "child"
