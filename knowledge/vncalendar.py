"""Vietnamese calendar: lunar <-> solar dates, public holidays and working days.

Lunar conversion uses ``vnlunar`` (astronomical new moons at UTC+7, the Vietnamese
convention; it differs from the Chinese calendar in some years, e.g. Tết 2007 fell on
17/2 in Viet Nam and 18/2 in China).

Holidays follow Bộ luật Lao động 2019, Điều 112:

- k1: Tết Dương lịch 01/01; Tết Âm lịch 05 ngày; Giỗ Tổ Hùng Vương 10/3 âm lịch;
  Chiến thắng 30/4; Quốc tế lao động 01/5; Quốc khánh 02/9 "và 01 ngày liền kề trước
  hoặc sau".
- k3: when a holiday falls on the weekly rest day, the worker takes the next working
  day off instead (ngày nghỉ bù).

The Government fixes the actual Tết days and any day swaps every year, so the Tết
span, the side of the extra National Day and ad-hoc days off / make-up working days
are all configurable through :class:`HolidayConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal

import vnlunar

__all__ = [
    "DEFAULT_CONFIG",
    "HolidayConfig",
    "LunarDate",
    "add_working_days",
    "compensatory_days",
    "is_working_day",
    "lunar_to_solar",
    "public_holidays",
    "solar_to_lunar",
    "statutory_holidays",
    "tet_date",
    "working_days_between",
]

VN_TIME_ZONE = 7.0
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LunarDate:
    """A date in the Vietnamese lunar calendar (``leap`` marks a leap month)."""

    year: int
    month: int
    day: int
    leap: bool = False


def lunar_to_solar(year: int, month: int, day: int, leap: bool = False) -> date:
    """Solar date of a Vietnamese lunar date; ``ValueError`` if it does not exist.

    A lunar month has 29 or 30 days and only some years have a leap month, so e.g.
    30/12 or a leap 5th month may not exist in a given year.
    """
    result = vnlunar.convert_lunar_to_solar(day, month, year, 1 if leap else 0)
    if result is None:
        leap_txt = " (nhuận)" if leap else ""
        raise ValueError(f"lunar date {day}/{month}{leap_txt}/{year} does not exist")
    d, m, y = result
    return date(y, m, d)


def solar_to_lunar(d: date) -> LunarDate:
    """Vietnamese lunar date of a solar date."""
    if isinstance(d, datetime):
        d = d.date()
    info = vnlunar.convert_solar_to_lunar(d.day, d.month, d.year, VN_TIME_ZONE)
    return LunarDate(info["year"], info["month"], info["day"], bool(info["leap"]))


def tet_date(year: int) -> date:
    """Solar date of Tết Nguyên đán (1/1 lunar) of the lunar year starting in ``year``."""
    return lunar_to_solar(year, 1, 1)


@dataclass(frozen=True)
class HolidayConfig:
    """How holidays are laid out; the defaults follow the letter of Điều 112.

    - ``tet_eve_days``: days off before mùng 1 (1 = the last day of the lunar year).
    - ``tet_new_year_days``: days off from mùng 1 on (4 = mùng 1..mùng 4).
      The law gives 5 days in total; the Government often decides a longer break,
      which is modelled by widening these two numbers or by ``extra_days_off``.
    - ``national_day_extra``: the day adjacent to 2/9 (``"before"`` = 1/9,
      ``"after"`` = 3/9).
    - ``weekend``: weekly rest days as ``date.weekday()`` numbers (Sat, Sun for
      state offices).
    - ``compensate_weekend_holidays``: apply Điều 112 k3 (nghỉ bù).
    - ``extra_days_off`` / ``extra_working_days``: the Government's yearly swaps
      (e.g. a Friday off moved to a working Saturday).
    """

    tet_eve_days: int = 1
    tet_new_year_days: int = 4
    national_day_extra: Literal["before", "after"] = "before"
    weekend: frozenset[int] = frozenset({5, 6})
    compensate_weekend_holidays: bool = True
    extra_days_off: frozenset[date] = field(default_factory=frozenset)
    extra_working_days: frozenset[date] = field(default_factory=frozenset)


DEFAULT_CONFIG = HolidayConfig()


@lru_cache(maxsize=256)
def _statutory(year: int, config: HolidayConfig) -> frozenset[date]:
    days: set[date] = {date(year, 1, 1), date(year, 4, 30), date(year, 5, 1), date(year, 9, 2)}
    days.add(date(year, 9, 1) if config.national_day_extra == "before" else date(year, 9, 3))
    days.add(lunar_to_solar(year, 3, 10))  # Giỗ Tổ Hùng Vương
    tet = tet_date(year)
    for offset in range(-config.tet_eve_days, config.tet_new_year_days):
        days.add(tet + timedelta(days=offset))
    return frozenset(days)


def statutory_holidays(year: int, config: HolidayConfig = DEFAULT_CONFIG) -> set[date]:
    """Holidays of Điều 112 k1 for ``year`` (no compensatory days, no weekend days)."""
    return set(_statutory(year, config))


@lru_cache(maxsize=256)
def _compensatory(year: int, config: HolidayConfig) -> frozenset[date]:
    """Compensatory days for the holidays of ``year`` (may spill into January of year+1)."""
    if not config.compensate_weekend_holidays:
        return frozenset()
    holidays = _statutory(year, config) | _statutory(year + 1, config) | config.extra_days_off
    taken: set[date] = set()
    # Chronological order matters: a Tết block that spans a weekend pushes every
    # compensatory day past the end of the block, one after the other.
    for day in sorted(_statutory(year, config)):
        if day.weekday() not in config.weekend:
            continue
        candidate = day + _ONE_DAY
        while candidate.weekday() in config.weekend or candidate in holidays or candidate in taken:
            candidate += _ONE_DAY
        taken.add(candidate)
    return frozenset(taken)


def compensatory_days(year: int, config: HolidayConfig = DEFAULT_CONFIG) -> set[date]:
    """Days off given in place of ``year``'s holidays that fall on a weekend (k3)."""
    return set(_compensatory(year, config))


def public_holidays(
    year: int,
    config: HolidayConfig = DEFAULT_CONFIG,
    *,
    include_compensatory: bool = True,
) -> set[date]:
    """All non-working holiday dates that lie in solar ``year``.

    Includes statutory days (also those on a weekend), compensatory days (unless
    ``include_compensatory`` is false; a previous year's spill-over is included) and
    ``config.extra_days_off`` in that year.
    """
    days = set(_statutory(year, config))
    if include_compensatory:
        days |= _compensatory(year, config)
        days |= {d for d in _compensatory(year - 1, config) if d.year == year}
    days |= {d for d in config.extra_days_off if d.year == year}
    return {d for d in days if d.year == year}


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def is_working_day(d: date | datetime, config: HolidayConfig = DEFAULT_CONFIG) -> bool:
    """True on a normal working day (not a weekend day, holiday or compensatory day)."""
    d = _as_date(d)
    if d in config.extra_working_days:
        return True
    if d.weekday() in config.weekend:
        return False
    return d not in public_holidays(d.year, config)


def add_working_days(
    start: date | datetime, n: int, config: HolidayConfig = DEFAULT_CONFIG
) -> date:
    """The date ``n`` working days after ``start``.

    Convention (as in Bộ luật Dân sự 2015 Điều 147: the first day of a period is not
    counted): counting starts on the next working day after ``start``'s date, whatever
    the time of day, so ``add_working_days(friday, 1)`` is the following Monday and a
    request on a holiday is counted from the first working day after it.
    ``n == 0`` returns ``start``'s date; a negative ``n`` counts backwards.
    """
    current = _as_date(start)
    step = _ONE_DAY if n >= 0 else -_ONE_DAY
    remaining = abs(n)
    while remaining:
        current += step
        if is_working_day(current, config):
            remaining -= 1
    return current


def working_days_between(
    a: date | datetime, b: date | datetime, config: HolidayConfig = DEFAULT_CONFIG
) -> int:
    """Working days in the half-open interval (a, b]; negative when ``b`` < ``a``.

    Consistent with :func:`add_working_days`: for n >= 1,
    ``working_days_between(a, add_working_days(a, n)) == n``.
    """
    a, b = _as_date(a), _as_date(b)
    if b < a:
        return -working_days_between(b, a, config)
    count = 0
    current = a
    while current < b:
        current += _ONE_DAY
        if is_working_day(current, config):
            count += 1
    return count
