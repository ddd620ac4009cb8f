"""Guidance knowledge: curated content, normalisation, safety triage and retrieval.

Submodules are imported lazily by callers (``from knowledge.understand import
Understander``); this package module stays import-light on purpose.
"""

from knowledge.topics import INTENTS, SAFETY_INTENTS, TOPICS

__all__ = ["INTENTS", "SAFETY_INTENTS", "TOPICS"]
