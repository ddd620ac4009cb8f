"""Loader and content checks, on a small broken content dir and on the real content."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.loader import CONTENT_ROOT, ContentError, check_content, load_knowledge_base

QUESTIONS = """\
  questions:
    - cách dạy con về vùng kín
    - day con ve vung kin the nao
    - vùng riêng tư là gì
    - ai được chạm vào người con
    - lm sao de con bik tu bao ve
    - bé mấy tuổi thì dạy quy tắc đồ lót
"""


def entry(id_: str, topic: str = "body_safety", audience: str = "parent",
          answer: str = "Hãy dạy con từ sớm. Gọi 111 khi cần.", questions: str = QUESTIONS,
          related: str = "[]") -> str:
    head = (f"- id: {id_}\n  topic: {topic}\n  audience: {audience}\n  title: Tiêu đề\n"
            f"  answer: |\n    {answer}\n")
    tail = (f"  sources: [\"Luật Trẻ em 2016\"]\n  related: {related}\n"
            "  reviewed: 2026-11-23\n\n")
    return head + questions + tail


def write(tmp: Path, name: str, text: str) -> Path:
    vi = tmp / "vi"
    vi.mkdir(exist_ok=True)
    path = vi / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    seen = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == nth:
                return number
    raise AssertionError(needle)


def messages(problems, path: Path) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for p in problems:
        if p.file == path:
            out.setdefault(p.line, []).append(p.message)
    return out


def test_good_entries_load(tmp_path: Path) -> None:
    write(tmp_path, "body_safety.yaml",
          entry("body-safety-a", related="[body-safety-b]") + entry("body-safety-b"))
    kb = load_knowledge_base(tmp_path)
    assert [e.id for e in kb.entries] == ["body-safety-a", "body-safety-b"]
    assert kb.by_id["body-safety-a"].related == ("body-safety-b",)
    assert len(kb.by_topic["body_safety"]) == 2
    assert str(kb.by_id["body-safety-a"].reviewed) == "2026-11-23"


def test_broken_content_reports_file_and_line(tmp_path: Path) -> None:
    few = "  questions:\n" + "".join(f"    - câu hỏi {i}\n" for i in range(5))
    same = "  questions:\n" + "".join(
        f"    - {q}\n" for q in ["Vùng kín", "vung kin", "VÙNG KÍN!", "a b", "c d", "e f"])
    text = (
        entry("body-safety-ok", related="[body-safety-missing]")
        + entry("body-safety-no-hotline", answer="Không có số điện thoại.")
        + entry("body-safety-few", questions=few)
        + entry("body-safety-dupes", questions=same)
        + entry("body-safety-ok")
        + entry("body-safety-bad-topic", topic="weather")
        + entry("body-safety-child", audience="child", answer="Gọi 111. " + "Dài quá. " * 60)
        + entry("wrong-prefix")
    )
    path = write(tmp_path, "body_safety.yaml", text)
    problems = check_content(tmp_path)
    by_line = messages(problems, path)

    def has(line: int, fragment: str) -> bool:
        return any(fragment in m for m in by_line.get(line, []))

    assert has(line_of(path, "related: [body-safety-missing]"), "'body-safety-missing' does not exist")
    assert has(line_of(path, "answer:", 2), "must mention 111")
    assert has(line_of(path, "questions:", 3), "at least 6") or has(
        line_of(path, "questions:", 3), "questions")
    assert has(line_of(path, "questions:", 4), "distinct questions")
    assert has(line_of(path, "- id: body-safety-ok", 2), "duplicate id")
    assert has(line_of(path, "topic: weather"), "unknown topic")
    assert has(line_of(path, "answer:", 7), "max 500 for child")
    assert has(line_of(path, "- id: wrong-prefix"), "must start with 'body-safety'")
    with pytest.raises(ContentError) as caught:
        load_knowledge_base(tmp_path)
    assert any(p.file == path for p in caught.value.problems)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, "reporting.yaml", "- id: reporting-x\n  topic: [unclosed\n  audience: any\n")
    problems = [p for p in check_content(tmp_path) if p.file == path and "YAML" in p.message]
    assert len(problems) == 1
    assert problems[0].line in (2, 3)


def test_drowning_upside_down_rule(tmp_path: Path) -> None:
    bad = "Vớt bé lên rồi dốc ngược cho ra nước. Gọi 115 và 111."
    good = "Tuyệt đối không dốc ngược trẻ để xốc nước. Gọi 115 và 111."
    path = write(tmp_path, "drowning_first_aid.yaml",
                 entry("drowning-first-aid-bad", topic="drowning_first_aid", answer=bad)
                 + entry("drowning-first-aid-good", topic="drowning_first_aid", answer=good))
    by_line = messages(check_content(tmp_path), path)
    assert any("upside-down" in m for m in by_line.get(line_of(path, "answer:", 1), []))
    assert not any("upside-down" in m for m in by_line.get(line_of(path, "answer:", 2), []))


def test_coverage_problems(tmp_path: Path) -> None:
    write(tmp_path, "body_safety.yaml", entry("body-safety-a"))
    text = "\n".join(str(p) for p in check_content(tmp_path))
    assert "topic body_safety has 1 entries (min 3)" in text
    assert "topic body_safety needs an entry for audience child" in text
    assert "topic officer_procedure needs an entry for audience officer" in text
    assert "1 entries in all (min 100)" in text


def test_problem_format(tmp_path: Path) -> None:
    path = write(tmp_path, "body_safety.yaml", entry("body-safety-a", answer="Không số."))
    problem = next(p for p in check_content(tmp_path) if "111" in p.message)
    assert str(problem).startswith(f"{path}:{line_of(path, 'answer:')}: body-safety-a:")


def test_real_content_has_no_problems() -> None:
    directory = CONTENT_ROOT / "vi"
    if not any(directory.glob("*.yaml")):
        pytest.skip("knowledge/content/vi is empty")
    problems = check_content()
    assert not problems, "\n".join(map(str, problems[:40]))
