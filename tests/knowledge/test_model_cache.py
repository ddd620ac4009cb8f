"""The trained models survive a round trip through the on-disk cache, and a stale or
damaged cache only costs a retrain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge import model_cache
from knowledge.classifier import Example
from knowledge.models import KnowledgeBase
from knowledge.normalize import normalize
from knowledge.understand import Models
from tests.knowledge.test_search import ENTRIES

EXAMPLES = [
    Example("cứu con với bố đang đánh mẹ", "emergency"),
    Example("con bé bị chú hàng xóm sờ vào người hôm qua", "disclosure"),
    Example("tôi muốn báo tin", "report"),
    Example("xin chào bạn", "smalltalk"),
    Example("thời tiết mai thế nào", "fallback"),
    Example("dạy con tự bảo vệ thế nào", "guidance", "body_safety"),
]


@pytest.fixture
def kb() -> KnowledgeBase:
    return KnowledgeBase.from_entries(ENTRIES)


def _probe(models: Models) -> tuple[dict[str, float], dict[str, float]]:
    from knowledge.classifier import features, topic_features
    from knowledge.triage import triage

    text = "con toi bi danh o truong phai lam sao"
    assert models.intent is not None and models.topic is not None
    return (
        models.intent.proba_features(features(normalize(text), triage(text))),
        models.topic.proba_features(topic_features(normalize(text))),
    )


def test_cached_models_score_like_the_trained_ones(kb: KnowledgeBase, tmp_path: Path) -> None:
    trained = Models.train(kb, EXAMPLES, cache_dir=tmp_path)
    files = list(tmp_path.glob("models-*.json"))
    assert len(files) == 1
    loaded = Models.train(kb, EXAMPLES, cache_dir=tmp_path)
    assert loaded is not trained
    for a, b in zip(_probe(trained), _probe(loaded), strict=True):
        assert a.keys() == b.keys()
        assert all(abs(a[k] - b[k]) < 1e-12 for k in a)


def test_other_training_data_does_not_reuse_the_cache(kb: KnowledgeBase, tmp_path: Path) -> None:
    Models.train(kb, EXAMPLES, cache_dir=tmp_path)
    Models.train(kb, [*EXAMPLES, Example("cảm ơn nhé", "smalltalk")], cache_dir=tmp_path)
    assert len(list(tmp_path.glob("models-*.json"))) == 2


def test_damaged_cache_file_means_training_again(kb: KnowledgeBase, tmp_path: Path) -> None:
    reference = _probe(Models.train(kb, EXAMPLES))
    Models.train(kb, EXAMPLES, cache_dir=tmp_path)
    (path,) = tmp_path.glob("models-*.json")
    path.write_text('{"intent": [1, 2', encoding="utf-8")
    assert _probe(Models.train(kb, EXAMPLES, cache_dir=tmp_path)) == reference
    # ... and a well-formed file written for another key is ignored too.
    path.write_text(json.dumps({"key": "something else", "intent": None, "topic": None}), encoding="utf-8")
    assert _probe(Models.train(kb, EXAMPLES, cache_dir=tmp_path)) == reference


def test_unwritable_cache_dir_is_not_an_error(kb: KnowledgeBase, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    models = Models.train(kb, EXAMPLES, cache_dir=blocker / "cache")
    assert models.intent is not None


def test_old_files_are_pruned(tmp_path: Path) -> None:
    for i in range(model_cache.KEEP + 3):
        model_cache.save(tmp_path, f"{i:02d}" * 32, {"intent": None, "topic": None})
    assert len(list(tmp_path.glob("models-*.json"))) == model_cache.KEEP
    assert not list(tmp_path.glob(".models-*"))


def test_settings_choose_the_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.config import load_settings

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert load_settings().model_cache_path == tmp_path / "bvte"
    assert load_settings(model_cache_dir="off").model_cache_path is None
    assert load_settings(model_cache_dir=str(tmp_path / "m")).model_cache_path == tmp_path / "m"
