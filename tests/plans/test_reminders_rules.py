"""The pure reminder rules: steps, slots at 08:00 local, the quiet window, late
collapse, snooze and the recipient's start day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from handlers.plans.reminders import (
    ReminderConfig,
    decide,
    escalation_steps,
    in_window,
    next_allowed,
    owner_steps,
    slot_at,
)
from handlers.plans.tasks import occurrence_dates, spec_date
from tests.plans.plans_sim import TZ

CFG = ReminderConfig()
DUE = date(2026, 5, 20)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def local(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ).astimezone(UTC)


def test_steps_and_slots() -> None:
    steps = owner_steps(DUE, CFG)
    assert [s for s, _ in steps] == ["-14", "-7", "-3", "-1", "0", "+1", "+2", "+3"]
    assert steps[0][1] == date(2026, 5, 6) and steps[-1][1] == date(2026, 5, 23)
    assert escalation_steps(DUE, CFG) == [("esc", date(2026, 5, 24))]
    assert slot_at(DUE, TZ, CFG) == datetime(2026, 5, 20, 1, 0, tzinfo=UTC)  # 08:00 UTC+7
    custom = owner_steps(DUE, ReminderConfig(offsets=(2, 0), overdue_days=1))
    assert [s for s, _ in custom] == ["-2", "0", "+1"]


@pytest.mark.parametrize(("hh", "mm", "allowed"), [
    (7, 59, False), (8, 0, True), (20, 59, True), (21, 0, False), (23, 30, False), (3, 0, False),
])
def test_quiet_window(hh: int, mm: int, allowed: bool) -> None:
    assert in_window(local(2026, 5, 20, hh, mm), TZ, CFG) is allowed


def test_next_allowed_moves_to_the_next_0800() -> None:
    assert next_allowed(local(2026, 5, 20, 22, 15), TZ, CFG) == local(2026, 5, 21)
    assert next_allowed(local(2026, 5, 20, 6, 0), TZ, CFG) == local(2026, 5, 20)
    at = local(2026, 5, 20, 15, 0)
    assert next_allowed(at, TZ, CFG) == at


def test_on_time_sends_one_step_then_waits_for_the_next() -> None:
    steps = owner_steps(DUE, CFG)
    d = decide(steps, set(), now=local(2026, 5, 6), since=LONG_AGO, tz=TZ, cfg=CFG)
    assert d.send == "-14" and d.skip == () and d.next_at == local(2026, 5, 13)
    d = decide(steps, {"-14"}, now=local(2026, 5, 6, 9), since=LONG_AGO, tz=TZ, cfg=CFG)
    assert d.send is None and d.next_at == local(2026, 5, 13)


def test_late_steps_collapse_into_the_most_recent() -> None:
    steps = owner_steps(DUE, CFG)
    # Down from before 6/5 until 19/5 15:00: -14, -7, -3 and -1 are all pending.
    d = decide(steps, set(), now=local(2026, 5, 19, 15), since=LONG_AGO, tz=TZ, cfg=CFG)
    assert d.send == "-1" and d.skip == ("-14", "-7", "-3")
    assert d.next_at == local(2026, 5, 20)


def test_late_steps_wait_for_the_window() -> None:
    steps = owner_steps(DUE, CFG)
    d = decide(steps, set(), now=local(2026, 5, 19, 23), since=LONG_AGO, tz=TZ, cfg=CFG)
    assert d.send is None and d.next_at == local(2026, 5, 20)


def test_snooze_hides_steps_then_resumes_with_one() -> None:
    steps = owner_steps(DUE, CFG)
    snooze = date(2026, 5, 21)
    d = decide(steps, {"-14", "-7", "-3"}, now=local(2026, 5, 19), since=LONG_AGO, tz=TZ,
               cfg=CFG, snoozed_until=snooze)
    assert d.send is None and d.next_at == local(2026, 5, 21)
    d = decide(steps, {"-14", "-7", "-3"}, now=local(2026, 5, 21), since=LONG_AGO, tz=TZ,
               cfg=CFG, snoozed_until=snooze)
    assert d.send == "+1" and d.skip == ("-1", "0")


def test_recipients_only_get_steps_from_the_day_they_start() -> None:
    steps = owner_steps(DUE, CFG)
    d = decide(steps, set(), now=local(2026, 5, 15, 10), since=local(2026, 5, 15, 9),
               tz=TZ, cfg=CFG)
    assert d.send is None and d.next_at == local(2026, 5, 17)  # -3; -14 and -7 were before


def test_occurrence_dates_rules() -> None:
    assert occurrence_dates(None, "monthly", 2026)[:3] == [
        date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    assert occurrence_dates(None, "quarterly", 2026) == [
        date(2026, 3, 31), date(2026, 6, 30), date(2026, 9, 30), date(2026, 12, 31)]
    assert occurrence_dates(None, "semiannual", 2026) == [date(2026, 6, 30), date(2026, 12, 31)]
    assert occurrence_dates(None, "annual", 2026) == [date(2026, 12, 31)]
    assert occurrence_dates(date(2026, 3, 10), "quarterly", 2026) == [
        date(2026, 3, 10), date(2026, 6, 10), date(2026, 9, 10), date(2026, 12, 10)]
    assert occurrence_dates(date(2026, 1, 31), "monthly", 2026)[1] == date(2026, 2, 28)
    assert occurrence_dates(date(2026, 4, 15), None, 2026) == [date(2026, 4, 15)]
    assert occurrence_dates(None, None, 2026) == []


@pytest.mark.parametrize(("spec", "year", "expected"), [
    ("lunar:--08-15", 2026, date(2026, 9, 25)),
    ("lunar:--08-15", 2027, date(2027, 9, 15)),
    ("lunar:--08-15", 2028, date(2028, 10, 3)),
    ("lunar:--01-01", 2007, date(2007, 2, 17)),  # Viet Nam; China had 18/2
    ("--06-01", 2026, date(2026, 6, 1)),
    ("2026-11-10", 2026, date(2026, 11, 10)),
])
def test_spec_dates(spec: str, year: int, expected: date) -> None:
    assert spec_date(spec, year) == expected
