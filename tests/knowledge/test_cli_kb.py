"""The kb check and eval commands through Typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli_kb import eval_app, kb_app

runner = CliRunner()


def test_check_reports_problems_with_file_and_line(tmp_path: Path) -> None:
    vi = tmp_path / "vi"
    vi.mkdir()
    (vi / "reporting.yaml").write_text("- id: reporting-x\n  topic: [oops\n", encoding="utf-8")
    result = runner.invoke(kb_app, ["check", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{vi / 'reporting.yaml'}:" in result.output
    assert "YAML syntax error" in result.output


def test_eval_prints_table_and_json(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    rows = [
        {"text": "cứu con với", "intent": "emergency", "topic": None, "alt_topics": []},
        {"text": "chào bạn", "intent": "smalltalk", "topic": None, "alt_topics": []},
    ]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    result = runner.invoke(eval_app, [str(data)])
    assert result.exit_code == 0, result.output
    assert "intent_accuracy" in result.output
    result = runner.invoke(eval_app, [str(data), "--json"])
    assert json.loads(result.output)["total"] == 2


def test_eval_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(eval_app, [str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
