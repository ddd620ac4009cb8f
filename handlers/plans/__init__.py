"""Plans that remind: a commune's loaded plan becomes tasks owned by units and
officers, reminded on the Vietnamese calendar by a database-driven engine.

Feature wiring (bot/app.py FEATURES): `router` (/viec, /xong, /tiendo and the
reminder buttons) and `setup(app)`, which returns the reminder Job.

Configuration: `app.services.extras["plans_config"]` (a ReminderConfig) if set,
else `ReminderConfig()` with the offsets from `settings.plan_reminder_offsets`
(e.g. "14,7,3,1,0") when the settings have that field.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from handlers.plans.commands import router
from handlers.plans.engine import PLAN_KIND, PlanReminderJob
from handlers.plans.reminders import ReminderConfig, next_allowed

__all__ = ["PlanReminderJob", "ReminderConfig", "config_from", "router", "setup"]


def config_from(settings: Any) -> ReminderConfig:
    raw = getattr(settings, "plan_reminder_offsets", None)
    if not raw:
        return ReminderConfig()
    if isinstance(raw, str):
        raw = [x for x in raw.replace(";", ",").split(",") if x.strip()]
    return ReminderConfig(offsets=tuple(int(x) for x in raw))


def setup(app: Any) -> list[PlanReminderJob]:
    config = app.services.extras.get("plans_config") or config_from(app.settings)
    app.services.extras["plans_config"] = config
    tz = ZoneInfo(app.settings.timezone)
    job = PlanReminderJob(app.uow, app.services.clock, tz, config)
    # A reminder the outbox retries (the platform was down) still keeps quiet hours.
    app.dispatcher.hold(PLAN_KIND, lambda now: next_allowed(now, tz, config))
    return [job]
