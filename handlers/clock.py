"""Clocks: the system one for serving, a settable one for the simulator and tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "SimClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimClock:
    """Time moves only when told; starts at a fixed instant unless given one."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday, 08:00 in Hanoi

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("SimClock needs an aware datetime")
        if when > self._now:
            self._now = when

    def advance(self, delta: timedelta) -> None:
        self._now += delta
