"""Plans data access: plans, units and members, tasks, occurrences, the reminder
ledger and the audit trail. Functions take the session keyword-only and never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_of
from storage.models.hotline import Officer
from storage.models.plans import (
    Occurrence,
    Plan,
    PlanEvent,
    ReminderSent,
    Task,
    Unit,
    UnitMember,
)

__all__ = [
    "active_plans",
    "add_event",
    "add_member",
    "candidate_occurrences",
    "done_since",
    "earliest_open_due",
    "has_overdue",
    "ledger_for",
    "members_of_units",
    "occurrence_with_task",
    "occurrences_for_commune",
    "officer_units",
    "plans_of",
    "record_step",
    "tasks_of_commune",
    "unit_by_key",
    "units_of",
]


# -- plans and units ------------------------------------------------------------------
async def plans_of(session: AsyncSession, *, commune_id: int | None = None) -> list[Plan]:
    query = select(Plan).order_by(Plan.id)
    if commune_id is not None:
        query = query.where(Plan.commune_id == commune_id)
    return list((await session.scalars(query)).all())


async def active_plans(session: AsyncSession) -> list[Plan]:
    query = select(Plan).where(Plan.active.is_(True)).order_by(Plan.id)
    return list((await session.scalars(query)).all())


async def units_of(session: AsyncSession, *, commune_id: int) -> list[Unit]:
    query = select(Unit).where(Unit.commune_id == commune_id).order_by(Unit.id)
    return list((await session.scalars(query)).all())


async def unit_by_key(session: AsyncSession, *, commune_id: int, key: str) -> Unit | None:
    return await session.scalar(select(Unit).where(Unit.commune_id == commune_id, Unit.key == key))


async def add_member(session: AsyncSession, *, unit_id: int, officer_id: int, now: datetime) -> bool:
    """False when the officer already belongs to the unit."""
    if await session.get(UnitMember, (unit_id, officer_id)) is not None:
        return False
    session.add(UnitMember(unit_id=unit_id, officer_id=officer_id, created_at=now))
    await session.flush()
    return True


async def members_of_units(
    session: AsyncSession, *, unit_ids: Iterable[int]
) -> list[tuple[int, Officer, datetime]]:
    """(unit id, active officer, member since) for the given units."""
    ids = list(set(unit_ids))
    if not ids:
        return []
    query = (
        select(UnitMember.unit_id, Officer, UnitMember.created_at)
        .join(Officer, Officer.id == UnitMember.officer_id)
        .where(UnitMember.unit_id.in_(ids), Officer.active.is_(True))
        .order_by(UnitMember.unit_id, Officer.id)
    )
    return [(u, o, at) for u, o, at in (await session.execute(query)).all()]


async def officer_units(session: AsyncSession, *, officer_id: int) -> list[Unit]:
    query = (
        select(Unit).join(UnitMember, UnitMember.unit_id == Unit.id)
        .where(UnitMember.officer_id == officer_id).order_by(Unit.id)
    )
    return list((await session.scalars(query)).all())


# -- occurrences ------------------------------------------------------------------------
def _open_active():
    return and_(Occurrence.state == "open", Plan.active.is_(True))


async def candidate_occurrences(
    session: AsyncSession, *, from_day: date, to_day: date | None = None, lock: bool = False
) -> list[tuple[Occurrence, Task, Plan]]:
    """Open occurrences of active plans due in [`from_day`, `to_day`], earliest first.
    `lock` claims them on PostgreSQL (FOR UPDATE SKIP LOCKED): a second worker
    running at the same time skips what the first one is handling."""
    query = (
        select(Occurrence, Task, Plan)
        .join(Task, Task.id == Occurrence.task_id)
        .join(Plan, Plan.id == Task.plan_id)
        .where(_open_active(), Occurrence.due_date >= from_day)
        .order_by(Occurrence.due_date, Occurrence.id)
    )
    if to_day is not None:
        query = query.where(Occurrence.due_date <= to_day)
    if lock and dialect_of(session) == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Occurrence)
    return [(o, t, p) for o, t, p in (await session.execute(query)).all()]


async def occurrence_with_task(
    session: AsyncSession, *, occurrence_id: int
) -> tuple[Occurrence, Task, Plan] | None:
    query = (
        select(Occurrence, Task, Plan)
        .join(Task, Task.id == Occurrence.task_id)
        .join(Plan, Plan.id == Task.plan_id)
        .where(Occurrence.id == occurrence_id)
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1], row[2]) if row else None


async def occurrences_for_commune(
    session: AsyncSession, *, commune_id: int, until: date | None = None
) -> list[tuple[Occurrence, Task]]:
    """Every occurrence of the commune's active plans (due on or before `until`)."""
    query = (
        select(Occurrence, Task)
        .join(Task, Task.id == Occurrence.task_id)
        .join(Plan, Plan.id == Task.plan_id)
        .where(Plan.active.is_(True), Occurrence.commune_id == commune_id)
        .order_by(Occurrence.due_date, Occurrence.id)
    )
    if until is not None:
        query = query.where(Occurrence.due_date <= until)
    return [(o, t) for o, t in (await session.execute(query)).all()]


async def tasks_of_commune(session: AsyncSession, *, commune_id: int) -> list[Task]:
    query = (
        select(Task).join(Plan, Plan.id == Task.plan_id)
        .where(Plan.active.is_(True), Task.commune_id == commune_id).order_by(Task.id)
    )
    return list((await session.scalars(query)).all())


async def earliest_open_due(
    session: AsyncSession, *, commune_id: int | None, from_day: date
) -> date | None:
    """The earliest due date of an open occurrence on or after `from_day` (of one
    commune, or of all when `commune_id` is None)."""
    query = (
        select(func.min(Occurrence.due_date))
        .join(Task, Task.id == Occurrence.task_id)
        .join(Plan, Plan.id == Task.plan_id)
        .where(_open_active(), Occurrence.due_date >= from_day)
    )
    if commune_id is not None:
        query = query.where(Occurrence.commune_id == commune_id)
    return await session.scalar(query)


async def has_overdue(session: AsyncSession, *, commune_id: int, before: date) -> bool:
    query = (
        select(Occurrence.id)
        .join(Task, Task.id == Occurrence.task_id)
        .join(Plan, Plan.id == Task.plan_id)
        .where(_open_active(), Occurrence.commune_id == commune_id, Occurrence.due_date < before)
        .limit(1)
    )
    return (await session.scalar(query)) is not None


async def done_since(session: AsyncSession, *, commune_id: int, since: datetime) -> int:
    query = select(func.count()).select_from(Occurrence).where(
        Occurrence.commune_id == commune_id, Occurrence.state == "done",
        Occurrence.done_at >= since,
    )
    return int(await session.scalar(query) or 0)


# -- the ledger ---------------------------------------------------------------------------
async def ledger_for(
    session: AsyncSession, *, keys: Sequence[str]
) -> dict[tuple[str, int], set[str]]:
    """(occurrence key, officer id) -> steps already recorded."""
    out: dict[tuple[str, int], set[str]] = {}
    for start in range(0, len(keys), 500):
        chunk = list(keys[start:start + 500])
        query = select(ReminderSent.occurrence_key, ReminderSent.officer_id, ReminderSent.step).where(
            ReminderSent.occurrence_key.in_(chunk)
        )
        for key, officer_id, step in (await session.execute(query)).all():
            out.setdefault((key, officer_id), set()).add(step)
    return out


async def record_step(
    session: AsyncSession,
    *,
    occurrence_key: str,
    occurrence_id: int | None,
    officer_id: int,
    step: str,
    status: str,
    slot: datetime,
    now: datetime,
) -> bool:
    """Insert one ledger row; False when it was there already (another worker or an
    earlier run won). The unique constraint is the only arbiter."""
    values = dict(
        occurrence_key=occurrence_key, occurrence_id=occurrence_id, officer_id=officer_id,
        step=step, status=status, slot=slot, at=now,
    )
    dialect = dialect_of(session)
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(ReminderSent).values(**values)
        .on_conflict_do_nothing(index_elements=["occurrence_key", "officer_id", "step"])
        .returning(ReminderSent.id)
    )
    inserted = (await session.execute(stmt)).scalar_one_or_none()
    return inserted is not None


# -- audit ------------------------------------------------------------------------------
async def add_event(
    session: AsyncSession,
    *,
    at: datetime,
    action: str,
    commune_id: int | None = None,
    occurrence_id: int | None = None,
    officer_id: int | None = None,
    detail: str | None = None,
) -> None:
    session.add(PlanEvent(
        at=at, action=action, commune_id=commune_id, occurrence_id=occurrence_id,
        officer_id=officer_id, detail=detail[:200] if detail else None,
    ))
    await session.flush()

