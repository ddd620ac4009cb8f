"""Time limits and escalation from database timers: each level once, in order,
surviving restarts; working days skip weekends, Tết and the Hùng Kings' day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from handlers.hotline.timelimits import HotlineConfig, deadline_for
from storage.models.hotline import Case, CaseTimer
from tests.hotline.conftest import HotlineSim, build_sim

OVERDUE = "⏰"


def _alerts(out: list[dict], chat: str) -> list[str]:
    return [o["text"] for o in out if o["chat"] == chat and OVERDUE in o["text"]]


async def _people(hsim: HotlineSim) -> None:
    await hsim.register("sup", role="supervisor")
    await hsim.register("off1")
    await hsim.register("prov", commune="tp-lang-son", role="province")
    await hsim.make_group("sup", "grp")


async def test_unclaimed_urgent_case_escalates_each_level_once(hsim: HotlineSim) -> None:
    await _people(hsim)
    code, _ = await hsim.report("rep", urgent=True)
    out = await hsim.advance("PT14M")
    assert _alerts(out, "sup") == [] and _alerts(out, "prov") == []
    out = await hsim.advance("PT2M")  # 16 minutes: past the 15-minute claim limit
    sup = _alerts(out, "sup")
    assert len(sup) == 1 and code in sup[0] and "hạn nhận xử lý" in sup[0]
    assert _alerts(out, "prov") == [] and _alerts(out, "off1") == []
    out = await hsim.advance("PT15M")  # the next level after one more interval
    prov = _alerts(out, "prov")
    assert len(prov) == 1 and code in prov[0] and "cấp tỉnh" in prov[0]
    assert _alerts(out, "sup") == []
    out = await hsim.advance("PT3H")  # nothing repeats
    assert all("hạn nhận xử lý" not in t for t in _alerts(out, "sup") + _alerts(out, "prov"))


async def test_normal_case_claim_limit_is_two_hours(hsim: HotlineSim) -> None:
    await _people(hsim)
    await hsim.report("rep")
    out = await hsim.advance("PT1H59M")
    assert _alerts(out, "sup") == []
    out = await hsim.advance("PT2M")
    assert len(_alerts(out, "sup")) == 1
    out = await hsim.advance("PT2H")
    assert len(_alerts(out, "prov")) == 1


async def test_claiming_in_time_cancels_the_claim_escalation(hsim: HotlineSim) -> None:
    await _people(hsim)
    code, _ = await hsim.report("rep", urgent=True)
    await hsim.advance("PT10M")
    await hsim.button("off1", f"case:claim:{code}", chat="grp")
    out = await hsim.advance("PT1H")
    assert out == []
    async with hsim.app.uow() as uow:
        timers = (await uow.session.scalars(
            select(CaseTimer).where(CaseTimer.limit_name == "claim"))).all()
        assert timers and all(t.cancelled_at is not None and t.fired_at is None for t in timers)


async def test_emergency_protection_within_12_hours(hsim: HotlineSim) -> None:
    await _people(hsim)
    code, _ = await hsim.report("rep", urgent=True)
    await hsim.button("off1", f"case:claim:{code}", chat="grp")
    out = await hsim.advance("PT11H59M")
    assert _alerts(out, "off1") == []
    out = await hsim.advance("PT2M")
    claimer = _alerts(out, "off1")
    assert len(claimer) == 1 and "12 giờ" in claimer[0] and "Điều 26" in claimer[0]
    out = await hsim.advance("PT2H")
    assert len(_alerts(out, "sup")) == 1
    # Doing the step now stops the rest of the chain.
    await hsim.button("off1", f"case:step:{code}:verification")
    await hsim.button("off1", f"case:step:{code}:emergency")
    await hsim.button("off1", f"case:step:{code}:assessment")
    out = await hsim.advance("PT3H")
    assert all("12 giờ" not in t for t in _alerts(out, "prov"))


async def test_temporary_separation_at_most_15_days(hsim: HotlineSim) -> None:
    await _people(hsim)
    code, _ = await hsim.report("rep")
    await hsim.button("off1", f"case:claim:{code}", chat="grp")
    await hsim.button("off1", f"case:step:{code}:verification")
    await hsim.button("off1", f"case:step:{code}:emergency")
    out = await hsim.button("off1", f"case:sep:{code}:start")
    assert "15 ngày" in out[0]["text"]
    await hsim.button("off1", f"case:step:{code}:assessment")
    await hsim.button("off1", f"case:step:{code}:plan")
    await hsim.button("off1", f"case:step:{code}:implementation")  # plan limit met in time
    out = await hsim.advance("P14D")
    assert all("Điều 32" not in t for t in _alerts(out, "off1"))
    out = await hsim.advance("P1DT1M")
    sep = [t for t in _alerts(out, "off1") if "Điều 32" in t]
    assert len(sep) == 1


async def test_plan_limit_counts_working_days(db_url: str) -> None:
    config = HotlineConfig()
    # Friday 24/4/2026 08:00 in Hanoi: Hùng Kings' day (26/4, moved to Monday 27/4)
    # and 30/4-1/5 are not working days, so 5 working days end on Wednesday 6/5.
    case = Case(created_at=datetime(2026, 4, 24, 1, 0, tzinfo=UTC), urgent=False)
    assert deadline_for(case, "plan", config) == datetime(2026, 5, 6, 17, 0, tzinfo=UTC)
    # Reported the Friday before Tết 2026 (17/2): the holiday week does not count.
    case = Case(created_at=datetime(2026, 2, 13, 3, 0, tzinfo=UTC), urgent=False)
    assert deadline_for(case, "plan", config).astimezone(config.tz).date().isoformat() == "2026-02-28"


async def test_plan_reminders_go_claimer_then_supervisors_then_province(hsim: HotlineSim) -> None:
    await _people(hsim)
    code, _ = await hsim.report("rep")  # Monday 2/3/2026 08:00: deadline end of Monday 9/3
    await hsim.button("off1", f"case:claim:{code}", chat="grp")
    out = await hsim.advance("P7DT15H59M")  # Monday 9/3 23:59 in Hanoi
    assert all("Điều 28" not in t for t in _alerts(out, "off1"))
    out = await hsim.advance("PT2M")
    plan = [t for t in _alerts(out, "off1") if "Điều 28" in t]
    assert len(plan) == 1
    out = await hsim.advance("P1D")
    assert len([t for t in _alerts(out, "sup") if "Điều 28" in t]) == 1
    out = await hsim.advance("P1D")
    assert len([t for t in _alerts(out, "prov") if "Điều 28" in t]) == 1
    out = await hsim.advance("P10D")
    assert [t for t in _alerts(out, "off1") + _alerts(out, "sup") + _alerts(out, "prov")
            if "Điều 28" in t] == []


async def test_timers_survive_a_restart_and_fire_once(db_url: str) -> None:
    first = await build_sim(db_url)
    await _people(first)
    code, _ = await first.report("rep", urgent=True)
    start = first.clock.now()
    await first.app.close()

    second = await build_sim(db_url, communes=False)
    second.clock.set(start)
    out = await second.advance("PT16M")
    assert len(_alerts(out, "sup")) == 1
    now = second.clock.now()
    await second.app.close()

    third = await build_sim(db_url, communes=False)
    third.clock.set(now)
    out = await third.advance("PT1M")
    assert _alerts(out, "sup") == []  # not again after the restart
    out = await third.advance("PT15M")
    assert len(_alerts(out, "prov")) == 1
    await third.app.close()


async def test_the_chain_is_configurable(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BVTE_HOTLINE_CHAIN", "claimer,supervisors")
    monkeypatch.setenv("BVTE_HOTLINE_CLAIM_URGENT_MINUTES", "5")
    hsim = await build_sim(db_url)
    try:
        await _people(hsim)
        await hsim.report("rep", urgent=True)
        out = await hsim.advance("PT6M")
        assert len(_alerts(out, "sup")) == 1
        out = await hsim.advance("PT2H")
        assert _alerts(out, "prov") == []
    finally:
        await hsim.app.close()


async def test_no_supervisor_falls_back_to_the_group(hsim: HotlineSim) -> None:
    await hsim.register("off1", commune="chau-son")
    await hsim.register("sup2", commune="chau-son", role="supervisor")
    await hsim.make_group("sup2", "grp2", commune="chau-son")
    async with hsim.app.uow() as uow:  # the only supervisor leaves
        from storage.models.hotline import Officer

        sup = await uow.session.scalar(select(Officer).where(Officer.user_key == "sup2"))
        sup.active = False
    await hsim.report("rep", commune="Châu Sơn", urgent=True)
    out = await hsim.advance("PT16M")
    assert len(_alerts(out, "grp2")) == 1


def test_config_from_env() -> None:
    cfg = HotlineConfig.from_env({"BVTE_HOTLINE_CLAIM_NORMAL_MINUTES": "60",
                                  "BVTE_HOTLINE_PLAN_WORKING_DAYS": "7"})
    assert cfg.claim_normal == timedelta(hours=1) and cfg.plan_working_days == 7
    assert cfg.claim_urgent == timedelta(minutes=15) and cfg.emergency == timedelta(hours=12)
    assert cfg.chain == ("claimer", "supervisors", "province")


async def test_two_workers_firing_the_same_timers_escalate_once(db_url: str) -> None:
    import asyncio

    first = await build_sim(db_url)
    await _people(first)
    await first.report("rep", urgent=True)
    await first.report("rep2", urgent=True)
    second = await build_sim(db_url, communes=False)
    try:
        due = first.clock.now() + timedelta(minutes=16)
        first.clock.set(due)
        second.clock.set(due)
        timers = [next(j for j in app.jobs.jobs if j.name == "hotline-timers")
                  for app in (first.app, second.app)]
        fired = await asyncio.gather(*(job.run_due(due) for job in timers))
        assert sum(fired) == 2  # two cases' claim timers, each fired by one worker
        await first.app.dispatcher.drain()
        await second.app.dispatcher.drain()
        out = first.sim._drain_output() + second.sim._drain_output()
        assert len(_alerts(out, "sup")) == 2
    finally:
        await second.app.close()
        await first.app.close()
