from knowledge.topics import INTENTS, TOPICS, parse_spec


def test_constants_match_the_contract() -> None:
    spec = parse_spec()
    assert spec["intents"] == INTENTS
    assert spec["topics"] == TOPICS


def test_shared_spec_copy_is_current() -> None:
    from pathlib import Path

    shared = Path("/work/shared/spec/topics.md")
    if shared.exists():
        assert parse_spec(shared) == parse_spec()
