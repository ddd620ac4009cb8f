"""Which reminders are due: pure functions, no database.

The rules (all times local, in the configured time zone, Asia/Ho_Chi_Minh by default):

- An occurrence due on day D reminds its owners on the days D-14, D-7, D-3, D-1 and
  D (``ReminderConfig.offsets``), then on D+1 .. D+3 while it stays open
  (``overdue_days``); on D+4 it escalates once to the commune's supervisors.
  Each of these is a *step* ("-14" .. "0", "+1" .. "+3", "esc").
- A step's *slot* is 08:00 local on its day (``send_hour``). Messages only go out
  inside the window [08:00, 21:00): never between 21:00 and 07:00 (nor before 08:00).
- A step whose slot passed while nothing ran (the bot was down, or the occurrence
  was snoozed) is sent late, at the next allowed instant, once. When several steps
  of the same occurrence are pending for the same person, only the most recent is
  sent and the older ones are recorded as skipped: an officer never gets five stale
  reminders at once, and the text always says how many days are really left.
- A snoozed occurrence sends nothing before 08:00 of its ``snoozed_until`` day; the
  steps it hid collapse into one reminder on that day (escalation waits too).
- A person only gets steps whose day is on or after the day they became a recipient
  (plan loaded, officer registered, unit assigned): loading a plan in March does not
  replay January's reminders.
- The weekly digest goes to the supervisors on Monday at 08:00 (late by at most two
  days, once), when there is something to say: an open occurrence overdue or due
  within 30 days, or one done in the past week.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "Decision",
    "ReminderConfig",
    "decide",
    "escalation_steps",
    "in_window",
    "local_date",
    "next_allowed",
    "owner_steps",
    "slot_at",
    "step_days",
]


@dataclass(frozen=True)
class ReminderConfig:
    offsets: tuple[int, ...] = (14, 7, 3, 1, 0)
    overdue_days: int = 3
    send_hour: int = 8
    quiet_start: int = 21  # no message from this hour until send_hour
    # A late step older than this is dropped rather than sent (bounds the work).
    max_late_days: int = 60
    digest_weekday: int = 0  # Monday
    digest_horizon_days: int = 30

    def __post_init__(self) -> None:
        if any(o < 0 for o in self.offsets) or not self.offsets:
            raise ValueError("offsets must be a non-empty list of days >= 0")
        if not 0 <= self.send_hour < self.quiet_start <= 24:
            raise ValueError("send_hour must come before quiet_start")

    @property
    def max_offset(self) -> int:
        return max(self.offsets)


def slot_at(day: date, tz: ZoneInfo, cfg: ReminderConfig) -> datetime:
    """08:00 local on `day`, as aware UTC."""
    return datetime.combine(day, time(cfg.send_hour), tzinfo=tz).astimezone(UTC)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def in_window(instant: datetime, tz: ZoneInfo, cfg: ReminderConfig) -> bool:
    hour = instant.astimezone(tz).hour
    return cfg.send_hour <= hour < cfg.quiet_start


def next_allowed(instant: datetime, tz: ZoneInfo, cfg: ReminderConfig) -> datetime:
    """`instant` itself if messages may go out then, else the next 08:00 local."""
    if in_window(instant, tz, cfg):
        return instant
    local = instant.astimezone(tz)
    day = local.date() if local.hour < cfg.send_hour else local.date() + timedelta(days=1)
    return slot_at(day, tz, cfg)


def step_name(days_before: int) -> str:
    if days_before > 0:
        return f"-{days_before}"
    return "0" if days_before == 0 else f"+{-days_before}"


def step_days(step: str) -> int:
    """Days before the due date a step stands for (negative when overdue)."""
    return -int(step) if step != "0" else 0


def owner_steps(due: date, cfg: ReminderConfig) -> list[tuple[str, date]]:
    """(step, day) for the owners, in chronological order."""
    before = sorted(set(cfg.offsets), reverse=True)
    steps = [(step_name(k), due - timedelta(days=k)) for k in before]
    steps += [(step_name(-k), due + timedelta(days=k)) for k in range(1, cfg.overdue_days + 1)]
    return steps


def escalation_steps(due: date, cfg: ReminderConfig) -> list[tuple[str, date]]:
    return [("esc", due + timedelta(days=cfg.overdue_days + 1))]


@dataclass(frozen=True)
class Decision:
    send: str | None  # the step to send now
    skip: tuple[str, ...]  # stale steps collapsed into `send`
    next_at: datetime | None  # when something is next due for this person, after this


def decide(
    steps: Sequence[tuple[str, date]],
    done: Iterable[str],
    *,
    now: datetime,
    since: datetime,
    tz: ZoneInfo,
    cfg: ReminderConfig,
    snoozed_until: date | None = None,
) -> Decision:
    """What to do for one person and one occurrence at `now`.

    `done` are the steps already in the ledger (sent or skipped); `since` is when the
    person became a recipient."""
    recorded = set(done)
    floor_day = local_date(since, tz)
    oldest = local_date(now, tz) - timedelta(days=cfg.max_late_days)
    snooze_slot = slot_at(snoozed_until, tz, cfg) if snoozed_until else None
    pending: list[tuple[str, datetime]] = []
    for step, day in steps:
        if step in recorded or day < floor_day or day < oldest:
            continue
        at = slot_at(day, tz, cfg)
        if snooze_slot is not None and snooze_slot > at:
            at = snooze_slot
        pending.append((step, at))
    due_now = [step for step, at in pending if at <= now]
    later = [at for _, at in pending if at > now]
    if due_now and not in_window(now, tz, cfg):
        return Decision(None, (), next_allowed(now, tz, cfg))
    send = due_now[-1] if due_now else None  # steps are chronological: the latest wins
    return Decision(send, tuple(due_now[:-1]), min(later) if later else None)
