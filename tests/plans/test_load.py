"""`bvte plan load`, `plan list`, `plan owner` and `unit assign`: a reviewed draft
becomes units, tasks and due dates in one transaction; malformed files are refused
with the line and the reason and leave nothing behind."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from knowledge.plans import import_plan, to_yaml
from storage.models.plans import Occurrence, Plan, Task, Unit, UnitMember
from tests.conftest import SimHarness
from tests.plans.conftest import SHARED_PLANS
from tests.plans.plans_sim import SMALL_PLAN, TZ, assign, load, register, start

START = datetime(2026, 3, 2, 8, 0, tzinfo=TZ).astimezone(UTC)


async def count(h: SimHarness, model) -> int:
    async with h.app.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def h(db_url: str):
    harness = await start(db_url, START)
    try:
        yield harness
    finally:
        await harness.app.close()


def draft_of(name: str, tmp_path: Path) -> Path:
    source = SHARED_PLANS / name
    if not source.exists():
        pytest.skip(f"sample plan not found at {source} (shared/ must sit beside the clone)")
    text = source.read_text(encoding="utf-8")
    path = tmp_path / (name.removesuffix(".txt") + ".yaml")
    path.write_text(to_yaml(import_plan(text)), encoding="utf-8")
    return path


async def test_quan_son_sample_loads_units_and_ongoing_tasks(h: SimHarness, tmp_path: Path) -> None:
    out = await load(h, draft_of("quan-son-2026-phong-chong-xam-hai.txt", tmp_path), "quan-son")
    assert "Đã nạp kế hoạch #1 năm 2026" in out and "6 đơn vị" in out, out
    assert await count(h, Unit) == 6 and await count(h, Task) == 14
    assert await count(h, Occurrence) == 0  # no dates in that plan: ongoing tasks only
    listing = (await h.send({"cli": ["plan", "list"]}))[0]["cli_output"]
    assert "quan-son\t2026\tđang dùng\t14 nhiệm vụ" in listing


async def test_chau_son_sample_dates_events_and_deadlines(h: SimHarness, tmp_path: Path) -> None:
    out = await load(h, draft_of("chau-son-2026-cong-tac-tre-em.txt", tmp_path), "chau-son")
    assert "Đã nạp kế hoạch" in out, out
    async with h.app.uow() as uow:
        rows = (await uow.session.execute(
            select(Task.source, Task.text, Task.unit_id, Occurrence.due_date)
            .join(Occurrence, Occurrence.task_id == Task.id)
        )).all()
    by_text = {text: (source, unit, due) for source, text, unit, due in rows}
    assert by_text["Tết Trung thu"] == ("event", None, date(2026, 9, 25))
    assert by_text["Báo cáo năm"] == ("deadline", None, date(2026, 11, 10))
    monthly = [due for source, text, unit, due in rows if source == "task"]
    assert len(monthly) == 12 and monthly[0] == date(2026, 1, 31)
    assert date(2026, 7, 20) in {due for *_, due in rows}  # the month-of-action report


async def test_malformed_yaml_is_refused_with_line_and_reason(h: SimHarness, tmp_path: Path) -> None:
    bad = SMALL_PLAN.replace("    recurrence: quarterly", "    recurrence: weekly")
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    out = await load(h, path)
    line = bad.splitlines().index("    recurrence: weekly") + 1
    assert f"dòng {line}" in out and "recurrence" in out, out
    broken = tmp_path / "broken.yaml"
    broken.write_text("issuer: x\nunits: [\n", encoding="utf-8")
    out = await load(h, broken)
    assert "dòng" in out and "YAML" in out, out
    assert await count(h, Plan) == 0 and await count(h, Task) == 0


async def test_an_impossible_date_names_its_line_and_loads_nothing(
    h: SimHarness, tmp_path: Path
) -> None:
    bad = SMALL_PLAN.replace("date: lunar:--08-15", "date: --02-30")
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    out = await load(h, path)
    line = bad.splitlines().index("  date: --02-30") + 1
    assert f"dòng {line}" in out and "--02-30" in out, out
    assert await count(h, Plan) == 0 and await count(h, Unit) == 0


async def test_a_failure_half_way_leaves_nothing(
    h: SimHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.repositories import plans as repo

    async def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    # The audit row is the very last write of a load: everything else is in the session.
    monkeypatch.setattr(repo, "add_event", boom)
    path = tmp_path / "plan.yaml"
    path.write_text(SMALL_PLAN, encoding="utf-8")
    out = await load(h, path)
    assert "RuntimeError" in out
    for model in (Plan, Unit, Task, Occurrence):
        assert await count(h, model) == 0, model


async def test_unknown_commune_and_reloading_need_care(h: SimHarness, tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(SMALL_PLAN, encoding="utf-8")
    assert "không có xã" in await load(h, path, "atlantis")
    assert "Đã nạp" in await load(h, path)
    again = await load(h, path)
    assert "--replace" in again and await count(h, Plan) == 1
    assert "Đã nạp kế hoạch #2" in await load(h, path, "chau-son", "--replace")
    async with h.app.uow() as uow:
        plans = (await uow.session.scalars(select(Plan).order_by(Plan.id))).all()
    assert [p.active for p in plans] == [False, True]
    assert await count(h, Unit) == 2  # units are the commune's: reused, not duplicated


async def test_unit_assign_and_task_owner(h: SimHarness, tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(SMALL_PLAN, encoding="utf-8")
    await load(h, path)
    await register(h, "nurse", "officer")
    await register(h, "far", "officer", commune="quan-son")
    out = await assign(h, "Trường học", "nurse")
    assert "không có đơn vị" in out and "Trạm Y tế xã" in out
    assert "không tìm thấy cán bộ" in await assign(h, "Trạm Y tế", "nobody")
    assert "không thuộc xã" in await assign(h, "Trạm Y tế", "far")
    assert "«Trạm Y tế xã»" in await assign(h, "tram y te", "nurse")
    assert "đã thuộc" in await assign(h, "Trạm Y tế xã", "sim:nurse")
    created = await h.send({"cli": ["unit", "assign", "--commune", "chau-son", "--unit",
                                    "Trường Tiểu học", "--officer", "nurse", "--create"]})
    assert "«Trường Tiểu học»" in created[0]["cli_output"]
    assert await count(h, UnitMember) == 2
    out = (await h.send({"cli": ["plan", "owner", "1", "--officer", "nurse"]}))[0]["cli_output"]
    assert "giao cho cán bộ" in out
    refused = (await h.send({"cli": ["plan", "owner", "1", "--officer", "far"]}))[0]["cli_output"]
    assert "không có cán bộ" in refused
