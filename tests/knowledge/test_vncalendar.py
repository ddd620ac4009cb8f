"""Tests for knowledge.vncalendar (lunar conversion, holidays, working days)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from knowledge.vncalendar import (
    HolidayConfig,
    LunarDate,
    add_working_days,
    compensatory_days,
    is_working_day,
    lunar_to_solar,
    public_holidays,
    solar_to_lunar,
    statutory_holidays,
    tet_date,
    working_days_between,
)

# --- lunar <-> solar -------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2007, date(2007, 2, 17)),  # Viet Nam (UTC+7); China celebrated on 18/2
        (2026, date(2026, 2, 17)),
        (2027, date(2027, 2, 6)),
        (2028, date(2028, 1, 26)),
    ],
)
def test_tet_dates(year: int, expected: date) -> None:
    assert lunar_to_solar(year, 1, 1) == expected
    assert tet_date(year) == expected


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2025, date(2025, 10, 6)),
        (2026, date(2026, 9, 25)),
        (2027, date(2027, 9, 15)),
        (2028, date(2028, 10, 3)),
    ],
)
def test_mid_autumn(year: int, expected: date) -> None:
    assert lunar_to_solar(year, 8, 15) == expected


def test_solar_to_lunar_round_trip() -> None:
    assert solar_to_lunar(date(2007, 2, 17)) == LunarDate(2007, 1, 1, False)
    assert solar_to_lunar(date(2007, 2, 16)) == LunarDate(2006, 12, 29, False)
    assert solar_to_lunar(datetime(2026, 9, 25, 23, 30)) == LunarDate(2026, 8, 15, False)


def test_leap_month() -> None:
    # 2023 had a leap 2nd lunar month.
    assert lunar_to_solar(2023, 2, 1, leap=True) == date(2023, 3, 22)
    assert solar_to_lunar(date(2023, 3, 22)) == LunarDate(2023, 2, 1, True)
    with pytest.raises(ValueError):
        lunar_to_solar(2026, 2, 1, leap=True)


def test_nonexistent_day_raises() -> None:
    # The 12th month of lunar 2026 has only 29 days (Tết 2027 is 6/2).
    assert lunar_to_solar(2026, 12, 29) == date(2027, 2, 5)
    with pytest.raises(ValueError):
        lunar_to_solar(2026, 12, 30)


# --- holidays ---------------------------------------------------------------------


def test_statutory_holidays_2027() -> None:
    days = statutory_holidays(2027)
    assert days == {
        date(2027, 1, 1),
        # Tết: last day of lunar 2026 + mùng 1..4
        date(2027, 2, 5),
        date(2027, 2, 6),
        date(2027, 2, 7),
        date(2027, 2, 8),
        date(2027, 2, 9),
        date(2027, 4, 16),  # Giỗ Tổ 10/3 âm lịch
        date(2027, 4, 30),
        date(2027, 5, 1),
        date(2027, 9, 1),
        date(2027, 9, 2),
    }


def test_national_day_adjacent_day_configurable() -> None:
    after = statutory_holidays(2026, HolidayConfig(national_day_extra="after"))
    assert date(2026, 9, 3) in after and date(2026, 9, 1) not in after
    assert date(2026, 9, 1) in statutory_holidays(2026)


def test_tet_span_configurable() -> None:
    longer = statutory_holidays(2026, HolidayConfig(tet_eve_days=2, tet_new_year_days=5))
    tet = [d for d in longer if date(2026, 2, 1) <= d <= date(2026, 2, 28)]
    assert sorted(tet) == [date(2026, 2, d) for d in range(15, 22)]


def test_compensatory_days_tet_2027() -> None:
    # Mùng 1 (Sat 6/2) and mùng 2 (Sun 7/2) fall on the weekend: two days off after the block.
    comp = compensatory_days(2027)
    assert {date(2027, 2, 10), date(2027, 2, 11)} <= comp
    assert date(2027, 5, 3) in comp  # 1/5/2027 is a Saturday


def test_compensatory_days_2026_and_2028() -> None:
    assert compensatory_days(2026) == {date(2026, 4, 27)}  # Giỗ Tổ on Sunday 26/4/2026
    # 30/4/2028 is a Sunday and 1/5 a Monday: compensation moves to Tuesday 2/5.
    comp = compensatory_days(2028)
    assert date(2028, 5, 2) in comp
    assert date(2028, 1, 3) in comp  # 1/1/2028 is a Saturday
    assert date(2028, 9, 4) in comp  # 2/9/2028 is a Saturday


def test_compensation_can_be_disabled() -> None:
    cfg = HolidayConfig(compensate_weekend_holidays=False)
    assert compensatory_days(2027, cfg) == set()
    assert is_working_day(date(2027, 2, 10), cfg)


def test_public_holidays_includes_compensation() -> None:
    days = public_holidays(2027)
    assert date(2027, 2, 11) in days
    assert date(2027, 2, 11) not in public_holidays(2027, include_compensatory=False)


# --- working days -----------------------------------------------------------------


def test_weekends_are_not_working_days() -> None:
    assert is_working_day(date(2026, 6, 5))  # Friday
    assert not is_working_day(date(2026, 6, 6))  # Saturday
    assert not is_working_day(date(2026, 6, 7))  # Sunday
    assert is_working_day(date(2026, 6, 8))


def test_working_days_around_tet_2027() -> None:
    assert is_working_day(date(2027, 2, 4))
    for day in range(5, 12):
        assert not is_working_day(date(2027, 2, day)), day
    assert is_working_day(date(2027, 2, 12))
    # Thursday 4/2 + 1 working day jumps the whole break.
    assert add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 12)
    assert add_working_days(date(2027, 2, 4), 2) == date(2027, 2, 15)
    assert working_days_between(date(2027, 2, 4), date(2027, 2, 15)) == 2


def test_working_days_around_30_4_and_1_5() -> None:
    # 2026: 30/4 Thursday, 1/5 Friday -> Wednesday 29/4 + 1 is Monday 4/5.
    assert add_working_days(date(2026, 4, 29), 1) == date(2026, 5, 4)
    # 2027: 30/4 Friday, 1/5 Saturday -> compensatory Monday 3/5.
    assert add_working_days(date(2027, 4, 29), 1) == date(2027, 5, 4)
    assert not is_working_day(date(2027, 5, 3))


def test_add_working_days_convention() -> None:
    friday = date(2026, 6, 5)
    assert add_working_days(friday, 0) == friday
    assert add_working_days(friday, 1) == date(2026, 6, 8)
    assert add_working_days(friday, 5) == date(2026, 6, 12)
    # A datetime late in the day counts the same as its date.
    assert add_working_days(datetime(2026, 6, 5, 22, 0), 1) == date(2026, 6, 8)
    # Counting from a weekend starts on Monday.
    assert add_working_days(date(2026, 6, 6), 1) == date(2026, 6, 8)
    assert add_working_days(date(2026, 6, 8), -1) == friday


def test_working_days_between() -> None:
    monday = date(2026, 6, 8)
    assert working_days_between(monday, monday) == 0
    assert working_days_between(monday, date(2026, 6, 15)) == 5
    assert working_days_between(date(2026, 6, 15), monday) == -5
    for n in range(1, 30):
        assert working_days_between(date(2027, 1, 20), add_working_days(date(2027, 1, 20), n)) == n


def test_extra_days_off_and_make_up_days() -> None:
    cfg = HolidayConfig(
        extra_days_off=frozenset({date(2026, 1, 2)}),
        extra_working_days=frozenset({date(2026, 1, 10)}),
    )
    assert not is_working_day(date(2026, 1, 2), cfg)
    assert is_working_day(date(2026, 1, 10), cfg)
    assert is_working_day(date(2026, 1, 2))
