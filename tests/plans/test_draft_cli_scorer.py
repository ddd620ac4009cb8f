"""YAML drafts, the `plan import` command and the scorer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli_plan import plan_app
from knowledge.plans import DraftError, import_plan, parse_draft, score, to_yaml

from .conftest import FIXTURES

PLAN_FILE = FIXTURES / "hoa-binh-2027-hard-wrapped.txt"


@pytest.fixture
def plan() -> dict:
    return import_plan(PLAN_FILE.read_text(encoding="utf-8"))


# --- drafts --------------------------------------------------------------------------


def test_yaml_round_trip_keeps_vietnamese(plan: dict) -> None:
    text = to_yaml(plan)
    assert "Trạm Y tế phường" in text and "\\u" not in text
    assert parse_draft(text).to_dict() == plan


def test_unquoted_dates_are_accepted(plan: dict) -> None:
    text = to_yaml(plan).replace("deadline: '2027-07-20'", "deadline: 2027-07-20")
    assert "deadline: 2027-07-20" in text
    draft = parse_draft(text)
    assert draft.units[0].tasks[-1].deadline == "2027-07-20"


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_bad_value_reports_its_line(plan: dict) -> None:
    text = to_yaml(plan).replace("recurrence: annual", "recurrence: yearly")
    with pytest.raises(DraftError) as info:
        parse_draft(text)
    assert info.value.line == _line_of(text, "recurrence: yearly")
    assert "recurrence" in info.value.reason


def test_bad_date_and_unknown_key(plan: dict) -> None:
    text = to_yaml(plan).replace("date: --11-25", "date: 25/11")
    with pytest.raises(DraftError) as info:
        parse_draft(text)
    assert info.value.line == _line_of(text, "date: 25/11")

    text = to_yaml(plan).replace("level: commune", "level: commune\nlevle: x")
    with pytest.raises(DraftError) as info:
        parse_draft(text)
    assert info.value.line == _line_of(text, "levle: x")


def test_missing_field_and_yaml_syntax_error(plan: dict) -> None:
    text = to_yaml(plan).replace("issuer: Ủy ban nhân dân phường Hòa Bình\n", "")
    with pytest.raises(DraftError, match="issuer"):
        parse_draft(text)
    with pytest.raises(DraftError) as info:
        parse_draft("issuer: a\nunits: [\n  - x\nlevel: commune\n")
    assert info.value.line >= 2 and "YAML" in str(info.value)
    with pytest.raises(DraftError):
        parse_draft("- just\n- a list\n")


# --- CLI -----------------------------------------------------------------------------

runner = CliRunner()


def test_cli_prints_yaml_by_default() -> None:
    result = runner.invoke(plan_app, ["import", str(PLAN_FILE)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Bản nháp")
    assert parse_draft(result.stdout).issuer == "Ủy ban nhân dân phường Hòa Bình"


def test_cli_json_with_bom_and_out_file(tmp_path: Path) -> None:
    src = tmp_path / "plan.txt"
    src.write_bytes(b"\xef\xbb\xbf" + PLAN_FILE.read_bytes())
    out = tmp_path / "plan.json"
    result = runner.invoke(plan_app, ["import", str(src), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["issuer"] == "Ủy ban nhân dân phường Hòa Bình"
    assert '"Trạm Y tế phường"' in out.read_text(encoding="utf-8")  # ensure_ascii=False
    assert set(data) == {"issuer", "level", "year", "units", "reporting_deadlines", "events"}


@pytest.mark.parametrize("content", [None, b"\xff\xfe\x00\x01bad", b"just some words\n"])
def test_cli_bad_file_exits_2(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "x.txt"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(plan_app, ["import", str(path)])
    assert result.exit_code == 2
    assert "Lỗi:" in result.output and "Error:" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


# --- scorer --------------------------------------------------------------------------


def test_scorer_counts_misses_and_extras(plan: dict) -> None:
    expected = json.loads((FIXTURES / "hoa-binh-2027-hard-wrapped.json").read_text("utf-8"))
    perfect = score(plan, expected)
    assert perfect["unit_recall"] == perfect["task_recall"] == 1.0

    damaged = json.loads(json.dumps(plan))
    damaged["units"].pop(0)  # 5 tasks gone
    damaged["units"][0]["tasks"].append({"text": "Một việc không có trong kế hoạch gốc nào cả."})
    damaged["reporting_deadlines"] = damaged["reporting_deadlines"][1:]
    result = score(damaged, expected)
    assert result["unit_recall"] == pytest.approx(4 / 5)
    assert result["unit_precision"] == 1.0
    assert result["task_recall"] == pytest.approx(6 / 11)
    assert result["task_precision"] == pytest.approx(6 / 7)
    assert result["reporting_deadline_recall"] == pytest.approx(2 / 3)
    assert result["missed_units"] == ["Công chức Văn hóa - Xã hội"]


def test_scorer_accepts_filled_in_year() -> None:
    expected = {"year": 2024, "units": [], "reporting_deadlines": [{"date": "--11-15"}]}
    assert (
        score({"reporting_deadlines": [{"date": "2024-11-15"}]}, expected)[
            "reporting_deadline_recall"
        ]
        == 1.0
    )
    assert (
        score({"reporting_deadlines": [{"date": "2024-11-16"}]}, expected)[
            "reporting_deadline_recall"
        ]
        == 0.0
    )
