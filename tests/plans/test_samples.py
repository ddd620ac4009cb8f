"""Scores of the importer on annotated plans (shared samples and local fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.plans import import_plan, score

from .conftest import FIXTURES, SHARED_PLANS


def _pairs(folder: Path, expected_dir: Path) -> list[tuple[Path, Path]]:
    if not folder.is_dir():
        return []
    return [(t, expected_dir / f"{t.stem}.json") for t in sorted(folder.glob("*.txt"))]


SHARED = _pairs(SHARED_PLANS, SHARED_PLANS / "expected")
LOCAL = _pairs(FIXTURES, FIXTURES)


def _check(text_path: Path, expected_path: Path) -> dict:
    actual = import_plan(text_path.read_text(encoding="utf-8"))
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    result = score(actual, expected)
    assert result["unit_recall"] >= 0.9, result["missed_units"]
    assert result["task_recall"] >= 0.85, result["missed_tasks"]
    assert result["task_precision"] >= 0.85, result["extra_tasks"]
    assert result["reporting_deadline_recall"] == 1.0, actual["reporting_deadlines"]
    assert actual["year"] == expected["year"]
    assert actual["level"] == expected["level"]
    assert actual["issuer"] == expected["issuer"]
    return result


@pytest.mark.skipif(not SHARED, reason=f"shared sample plans not found in {SHARED_PLANS}")
@pytest.mark.parametrize(("text_path", "expected_path"), SHARED, ids=[p[0].stem for p in SHARED])
def test_shared_samples(text_path: Path, expected_path: Path) -> None:
    _check(text_path, expected_path)


@pytest.mark.parametrize(("text_path", "expected_path"), LOCAL, ids=[p[0].stem for p in LOCAL])
def test_local_fixtures(text_path: Path, expected_path: Path) -> None:
    result = _check(text_path, expected_path)
    assert result["unit_precision"] == 1.0, result["extra_units"]


def test_local_fixtures_exist() -> None:
    assert len(LOCAL) >= 2


def test_fixture_details_roman_units() -> None:
    plan = import_plan((FIXTURES / "tan-lap-2025-roman-units.txt").read_text(encoding="utf-8"))
    names = [u["name"] for u in plan["units"]]
    assert names[0] == "CÔNG CHỨC VĂN HÓA - XÃ HỘI"
    assert names[-1].startswith("ỦY BAN MẶT TRẬN")  # "ĐỀ NGHỊ" dropped
    health = plan["units"][1]["tasks"]
    assert health[0]["deadline"] == "2025-05-30"
    assert [t["recurrence"] for t in health[2:]] == ["monthly", "semiannual"]
    assert plan["reporting_deadlines"][0]["date"] == "2025-11-15"
    assert {"name": "Tết Trung thu", "date": "lunar:--08-15"} in plan["events"]


def test_fixture_details_hard_wrapped() -> None:
    plan = import_plan((FIXTURES / "hoa-binh-2027-hard-wrapped.txt").read_text(encoding="utf-8"))
    units = {u["name"]: u["tasks"] for u in plan["units"]}
    # "b) Trạm Y tế phường: …" splits into the unit and its duty.
    assert units["Trạm Y tế phường"][0]["text"].startswith("Tổ chức khám sức khỏe")
    assert units["Trạm Y tế phường"][0]["text"].endswith("trên địa bàn phường.")
    # A one-line item that is both the unit and its duty.
    assert units["Công an phường"][0]["text"].startswith("Công an phường chủ trì")
    dates = [d["date"] for d in plan["reporting_deadlines"]]
    assert dates == ["2027-07-20", "--06-15", "--11-25"]


def test_sample_deadlines_and_events() -> None:
    path = SHARED_PLANS / "chau-son-2026-cong-tac-tre-em.txt"
    if not path.exists():
        pytest.skip(f"shared sample not found: {path}")
    plan = import_plan(path.read_text(encoding="utf-8"))
    dates = [d["date"] for d in plan["reporting_deadlines"]]
    assert dates[:2] == ["2026-05-10", "2026-11-10"]
    # A commune's Month-of-Action report is due to the province before 20/7 (facts §12).
    assert "2026-07-20" in dates
    events = {e["name"]: e["date"] for e in plan["events"]}
    assert events["Tháng hành động vì trẻ em"] == "--06-01"
    assert events["Tết Trung thu"] == "lunar:--08-15"
    assert events["Ngày Gia đình Việt Nam"] == "--06-28"
    first_unit = plan["units"][0]
    assert first_unit["name"] == "Phòng Văn hoá – Xã hội"
    monthly = [t for t in first_unit["tasks"] if t["text"].startswith("Hằng tháng, quý")]
    assert monthly and monthly[0]["recurrence"] == "monthly"
