"""The reminder engine: a background Job driven entirely by the database.

Each run looks at the open occurrences of active plans, asks `reminders.decide`
what is due for each (occurrence, person), and for each reminder inserts its ledger
row and its outbox message in one transaction. The ledger's unique constraint
(occurrence, person, step) is the only arbiter, so a restart or a second worker
never sends anything twice; on PostgreSQL the occurrences are also claimed with
FOR UPDATE SKIP LOCKED so two workers do not even try the same ones.

`next_due()` computes the next instant something will really be sent (a pending
step's 08:00 slot, the next allowed instant for late ones, the next Monday digest),
so the simulator jumps over a whole year in a few hundred steps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.clock import Clock
from handlers.messages import Button
from handlers.plans import tasks as svc
from handlers.plans.reminders import (
    ReminderConfig,
    decide,
    escalation_steps,
    local_date,
    owner_steps,
    slot_at,
)
from handlers.plans.views import action_buttons, digest_text, reminder_text, unit_label
from storage.models.hotline import Officer
from storage.repositories import hotline as hl_repo
from storage.repositories import outbox as outbox_repo
from storage.repositories import plans as repo
from storage.uow import UnitOfWork

__all__ = ["PLAN_KIND", "PlanReminderJob"]

log = logging.getLogger("bvte.plans")

REMINDER_PRIORITY = 6
PLAN_KIND = "plan"  # the outbox kind of reminders and digests (held in quiet hours)
DIGEST_PRIORITY = 7


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


class PlanReminderJob:
    name = "plans"

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        tz: ZoneInfo,
        config: ReminderConfig | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.tz = tz
        self.cfg = config or ReminderConfig()
        self._hint: tuple[datetime, datetime | None] | None = None

    # -- the Job protocol ------------------------------------------------------------
    async def run_due(self, now: datetime) -> int:
        async with self.uow_factory() as uow:
            sent, reminders = await self._reminders(uow.session, now, act=True)
            digests, nxt = await self._digests(uow.session, now, act=True)
        # What run_due saw right after acting is what next_due would compute at the
        # same instant (JobRunner.advance_to always runs before asking): keep it.
        self._hint = (now, _earliest(reminders, nxt))
        return sent + digests

    async def next_due(self) -> datetime | None:
        now = self.clock.now()
        if self._hint is not None and self._hint[0] == now:
            return self._hint[1]
        async with self.uow_factory() as uow:
            _, reminders = await self._reminders(uow.session, now, act=False)
            _, digests = await self._digests(uow.session, now, act=False)
        return _earliest(reminders, digests)

    # -- occurrence reminders ------------------------------------------------------------
    async def _reminders(
        self, session: AsyncSession, now: datetime, *, act: bool
    ) -> tuple[int, datetime | None]:
        cfg, tz = self.cfg, self.tz
        today = local_date(now, tz)
        from_day = today - timedelta(days=cfg.overdue_days + 1 + cfg.max_late_days)
        # Acting, nothing of an occurrence can be due before its first step's slot.
        to_day = today + timedelta(days=cfg.max_offset) if act else None
        rows = await repo.candidate_occurrences(session, from_day=from_day, to_day=to_day, lock=act)
        best: datetime | None = None
        if to_day is not None:
            # Beyond the horizon: no step before the first offset of the earliest one (a
            # lower bound; at that instant the exact answer is computed).
            later = await repo.earliest_open_due(session, commune_id=None,
                                                 from_day=to_day + timedelta(days=1))
            if later is not None:
                best = slot_at(later - timedelta(days=cfg.max_offset), tz, cfg)
        if not rows:
            return 0, best
        task_list = list({task.id: task for _, task, _ in rows}.values())
        owners, supervisors = await svc.owners(session, task_list)
        ledger = await repo.ledger_for(session, keys=[f"occ:{occ.id}" for occ, _, _ in rows])
        units = {}
        for cid in {task.commune_id for task in task_list}:
            units.update({u.id: u for u in await repo.units_of(session, commune_id=cid)})
        sent = 0
        for occ, task, _plan in rows:
            first_slot = slot_at(occ.due_date - timedelta(days=cfg.max_offset), tz, cfg)
            if not act and best is not None and first_slot > best:
                break  # rows are in due order: nothing later can come sooner
            key = f"occ:{occ.id}"
            streams: list[tuple[list[tuple[Officer, datetime]], list[tuple[str, date]]]] = [
                (owners[task.id].people, owner_steps(occ.due_date, cfg)),
                ([(s, s.created_at) for s in supervisors.get(task.commune_id, [])],
                 escalation_steps(occ.due_date, cfg)),
            ]
            for people, steps in streams:
                slots = dict(steps)
                for officer, since in people:
                    decision = decide(
                        steps, ledger.get((key, officer.id), set()), now=now,
                        since=max(since, task.created_at), tz=tz, cfg=cfg,
                        snoozed_until=occ.snoozed_until,
                    )
                    best = _earliest(best, decision.next_at)
                    if not act or decision.send is None:
                        continue
                    for step in decision.skip:
                        await repo.record_step(
                            session, occurrence_key=key, occurrence_id=occ.id,
                            officer_id=officer.id, step=step, status="skipped",
                            slot=slot_at(slots[step], tz, cfg), now=now,
                        )
                    if await repo.record_step(
                        session, occurrence_key=key, occurrence_id=occ.id, officer_id=officer.id,
                        step=decision.send, status="sent",
                        slot=slot_at(slots[decision.send], tz, cfg), now=now,
                    ):
                        text = reminder_text(decision.send, occ, task, unit_label(task, units), today)
                        buttons: tuple[Button, ...] = action_buttons(occ.id)
                        if decision.send == "esc":
                            buttons = buttons[:1]
                        await self._enqueue(session, officer, text, buttons, now,
                                            f"plan:{key}:{officer.id}:{decision.send}",
                                            REMINDER_PRIORITY)
                        sent += 1
        return sent, best

    # -- the weekly digest ---------------------------------------------------------------
    def _monday(self, now: datetime) -> date:
        """The latest digest day whose 08:00 slot is not after `now`."""
        today = local_date(now, self.tz)
        day = today - timedelta(days=(today.weekday() - self.cfg.digest_weekday) % 7)
        if slot_at(day, self.tz, self.cfg) > now:
            day -= timedelta(days=7)
        return day

    async def _worthy(self, session: AsyncSession, commune_id: int, day: date) -> bool:
        """A digest is sent when there is something to say: an open occurrence due
        within the horizon (or overdue), or something done in the week before."""
        first = await repo.earliest_open_due(session, commune_id=commune_id, from_day=date.min)
        if first is not None and first <= day + timedelta(days=self.cfg.digest_horizon_days):
            return True
        week_ago = slot_at(day, self.tz, self.cfg) - timedelta(days=7)
        return await repo.done_since(session, commune_id=commune_id, since=week_ago) > 0

    async def _digests(
        self, session: AsyncSession, now: datetime, *, act: bool
    ) -> tuple[int, datetime | None]:
        cfg, tz = self.cfg, self.tz
        plans = await repo.active_plans(session)
        started: dict[int, datetime] = {}
        for plan in plans:
            started[plan.commune_id] = min(plan.created_at, started.get(plan.commune_id, plan.created_at))
        sent = 0
        best: datetime | None = None
        current = self._monday(now)
        for commune_id, since in started.items():
            supervisors = await hl_repo.officers_of(
                session, commune_id=commune_id, roles=svc.SUPERVISOR_ROLES
            )
            if not supervisors:
                continue
            # This week's digest (late by at most 2 days), then the next worthwhile one.
            if local_date(now, tz) <= current + timedelta(days=2) and await self._worthy(
                session, commune_id, current
            ):
                key = f"digest:{commune_id}:{current.isoformat()}"
                ledger = await repo.ledger_for(session, keys=[key])
                text: str | None = None
                for officer in supervisors:
                    decision = decide(
                        [("digest", current)], ledger.get((key, officer.id), set()), now=now,
                        since=max(since, officer.created_at), tz=tz, cfg=cfg,
                    )
                    best = _earliest(best, decision.next_at)
                    if not act or decision.send is None:
                        continue
                    if await repo.record_step(
                        session, occurrence_key=key, occurrence_id=None, officer_id=officer.id,
                        step="digest", status="sent", slot=slot_at(current, tz, cfg), now=now,
                    ):
                        if text is None:
                            text = await digest_text(session, commune_id=commune_id, today=current)
                        if text:
                            await self._enqueue(session, officer, text, (), now, f"plan:{key}:{officer.id}",
                                                DIGEST_PRIORITY)
                            sent += 1
            best = _earliest(best, await self._next_digest(session, commune_id, current))
        return sent, best

    async def _next_digest(self, session: AsyncSession, commune_id: int, current: date) -> datetime | None:
        nxt = current + timedelta(days=7)
        if await self._worthy(session, commune_id, nxt):
            return slot_at(nxt, self.tz, self.cfg)
        first = await repo.earliest_open_due(session, commune_id=commune_id, from_day=nxt)
        if first is None:
            return None
        start = first - timedelta(days=self.cfg.digest_horizon_days)
        start += timedelta(days=(self.cfg.digest_weekday - start.weekday()) % 7)
        return slot_at(max(start, nxt), self.tz, self.cfg)

    async def _enqueue(
        self, session: AsyncSession, officer: Officer, text: str, buttons: tuple[Button, ...],
        now: datetime, dedupe_key: str, priority: int,
    ) -> None:
        await outbox_repo.enqueue(
            session, channel=officer.channel, chat_id=officer.chat_id, user_key=officer.user_key,
            text=text, buttons=buttons, kind=PLAN_KIND, priority=priority, dedupe_key=dedupe_key,
            now=now,
        )
