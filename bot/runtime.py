"""Process-wide clock override: lets the simulator run admin commands in its time."""

from __future__ import annotations

from handlers.clock import Clock, SystemClock

__all__ = ["get_clock", "set_clock"]

_clock: Clock = SystemClock()


def get_clock() -> Clock:
    return _clock


def set_clock(clock: Clock | None) -> None:
    global _clock
    _clock = clock or SystemClock()
