"""Time limits of a case and their escalation, from database timers.

Each limit of a case gets one timer row per escalation level (unique per case,
limit and level); a timer fires at most once, by a conditional UPDATE, so a
restart or a second worker never repeats a reminder. Meeting the limit (claiming,
finishing the step) cancels the timers still pending.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.hotline import Case
from storage.repositories import hotline as repo
from storage.uow import UnitOfWork

__all__ = [
    "HotlineConfig",
    "LIMITS",
    "TimersJob",
    "cancel_limit",
    "deadline_for",
    "start_limit",
]

log = logging.getLogger("bvte.hotline.timers")

# claim: ours; emergency: ND 56/2017 Điều 26 k3 + Điều 31; plan: Điều 28;
# separation: Điều 32.
LIMITS = ("claim", "emergency", "plan", "separation")


def _plan_deadline_default(start: date, n: int) -> date:
    from knowledge.vncalendar import add_working_days

    return add_working_days(start, n)


@dataclass(frozen=True)
class HotlineConfig:
    """Every limit is configurable per deployment (BVTE_HOTLINE_* variables)."""

    # Operational limits of this service: ND 56/2017 Điều 26 k1 only says the
    # information is passed on "ngay" (at once), so we set a claim window.
    claim_urgent: timedelta = timedelta(minutes=15)
    claim_normal: timedelta = timedelta(hours=2)
    # ND 56/2017/NĐ-CP Điều 26 khoản 3, Điều 31: emergency protection (or temporary
    # separation) within 12 hours of receiving the information.
    emergency: timedelta = timedelta(hours=12)
    # ND 56/2017/NĐ-CP Điều 28 (Luật Trẻ em 2016 Điều 52): the support and
    # intervention plan is drafted within 05 working days.
    plan_working_days: int = 5
    # ND 56/2017/NĐ-CP Điều 32: temporary separation lasts at most 15 days.
    separation: timedelta = timedelta(days=15)
    # Who is reminded after a limit passes, in order, each once. The district
    # level was abolished in 2025; a deployment may insert another level.
    chain: tuple[str, ...] = ("claimer", "supervisors", "province")
    # The gap between one escalation level and the next, per limit.
    steps: Mapping[str, timedelta] = field(default_factory=lambda: {
        "claim_urgent": timedelta(minutes=15),
        "claim": timedelta(hours=2),
        "emergency": timedelta(hours=2),
        "plan": timedelta(days=1),
        "separation": timedelta(days=1),
    })
    invite_ttl: timedelta = timedelta(days=7)
    timezone: str = "Asia/Ho_Chi_Minh"
    # Working-day arithmetic (knowledge.vncalendar.add_working_days by default).
    add_working_days: Callable[[date, int], date] = _plan_deadline_default

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, timezone: str | None = None) -> HotlineConfig:
        env = os.environ if env is None else env
        cfg = cls() if timezone is None else cls(timezone=timezone)

        def minutes(name: str, default: timedelta) -> timedelta:
            raw = env.get(f"BVTE_HOTLINE_{name}")
            return timedelta(minutes=float(raw)) if raw else default

        chain_raw = env.get("BVTE_HOTLINE_CHAIN")
        chain = tuple(p.strip() for p in chain_raw.split(",") if p.strip()) if chain_raw else cfg.chain
        return replace(
            cfg,
            claim_urgent=minutes("CLAIM_URGENT_MINUTES", cfg.claim_urgent),
            claim_normal=minutes("CLAIM_NORMAL_MINUTES", cfg.claim_normal),
            emergency=minutes("EMERGENCY_MINUTES", cfg.emergency),
            plan_working_days=int(env.get("BVTE_HOTLINE_PLAN_WORKING_DAYS", cfg.plan_working_days)),
            separation=timedelta(days=float(env.get("BVTE_HOTLINE_SEPARATION_DAYS", 15))),
            invite_ttl=timedelta(days=float(env.get("BVTE_HOTLINE_INVITE_DAYS", 7))),
            chain=chain,
        )


def deadline_for(case: Case, limit: str, config: HotlineConfig) -> datetime:
    received = case.created_at
    if limit == "claim":
        return received + (config.claim_urgent if case.urgent else config.claim_normal)
    if limit == "emergency":
        return received + config.emergency
    if limit == "plan":
        local = received.astimezone(config.tz).date()
        last_day = config.add_working_days(local, config.plan_working_days)
        # The limit ends with that working day (local midnight after it).
        end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=config.tz)
        return end.astimezone(UTC)
    if limit == "separation":
        start = case.separation_started_at or received
        return start + config.separation
    raise ValueError(f"unknown limit {limit!r}")


def _levels(limit: str, config: HotlineConfig) -> list[str]:
    # Before a claim there is no claimer to remind: the chain starts one level up.
    if limit == "claim":
        return [t for t in config.chain if t != "claimer"]
    return list(config.chain)


def _step(case: Case, limit: str, config: HotlineConfig) -> timedelta:
    key = "claim_urgent" if limit == "claim" and case.urgent else limit
    return config.steps.get(key, timedelta(hours=1))


async def start_limit(
    session: AsyncSession, *, case: Case, limit: str, config: HotlineConfig
) -> datetime:
    """Create the limit's escalation timers (idempotent); returns the deadline."""
    deadline = deadline_for(case, limit, config)
    step = _step(case, limit, config)
    for level, target in enumerate(_levels(limit, config)):
        await repo.add_timer(
            session, case_id=case.id, limit_name=limit, level=level, target=target,
            deadline=deadline, due_at=deadline + step * level,
        )
    return deadline


async def cancel_limit(
    session: AsyncSession, *, case: Case, now: datetime, limits: tuple[str, ...] | None = None
) -> int:
    return await repo.cancel_timers(session, case_id=case.id, now=now, limit_names=limits)


class TimersJob:
    """Fires due escalation timers (a handlers.jobs.Job)."""

    name = "hotline-timers"

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        cipher,
        config: HotlineConfig,
        *,
        on_enqueued: Callable[[], object] | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.cipher = cipher
        self.config = config
        self.on_enqueued = on_enqueued

    async def run_due(self, now: datetime) -> int:
        from handlers.hotline.notify import Mailer, escalate

        async with self.uow_factory() as uow:
            ids = await repo.due_timers(uow.session, now=now)
        fired = 0
        for timer_id in ids:
            # One transaction per timer: the reminder and `fired_at` commit together.
            async with self.uow_factory() as uow:
                timer = await repo.claim_timer(uow.session, timer_id=timer_id, now=now)
                if timer is None:
                    continue
                mailer = Mailer(uow.session, self.cipher, now)
                await escalate(uow.session, mailer, timer, self.config, now)
                fired += 1
        if fired:
            log.info("hotline: %d time-limit reminders queued", fired)
            hook = self.on_enqueued
            if hook is not None:
                result = hook()
                if hasattr(result, "__await__"):
                    await result  # type: ignore[misc]
        return fired

    async def next_due(self) -> datetime | None:
        async with self.uow_factory() as uow:
            return await repo.next_timer_due(uow.session)
