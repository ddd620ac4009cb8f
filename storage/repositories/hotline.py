"""Hotline data access: communes, officers, invite codes, cases, audit events and
timers. Functions take the session keyword-only and never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_of
from storage.models.core import OutboxMessage
from storage.models.hotline import Case, CaseEvent, CaseTimer, Commune, InviteCode, Officer

__all__ = [
    "add_event",
    "add_timer",
    "cancel_timers",
    "case_by_code",
    "case_by_draft",
    "cases_by_pseudonym",
    "cases_created_between",
    "claim_timer",
    "commune_by_id",
    "commune_by_slug",
    "communes",
    "default_commune",
    "delete_case_outbox",
    "due_timers",
    "events_for",
    "fired_limits",
    "invite_by_code",
    "next_timer_due",
    "officer_by_id",
    "officer_by_identity",
    "officers_of",
    "open_cases",
    "pending_timers",
    "province_officers",
    "upsert_commune",
]


# -- communes ---------------------------------------------------------------------
async def communes(session: AsyncSession) -> list[Commune]:
    return list((await session.scalars(select(Commune).order_by(Commune.id))).all())


async def commune_by_slug(session: AsyncSession, *, slug: str) -> Commune | None:
    return await session.scalar(select(Commune).where(Commune.slug == slug))


async def commune_by_id(session: AsyncSession, *, commune_id: int | None) -> Commune | None:
    return await session.get(Commune, commune_id) if commune_id is not None else None


async def default_commune(session: AsyncSession) -> Commune | None:
    return await session.scalar(
        select(Commune).where(Commune.is_default.is_(True)).order_by(Commune.id).limit(1)
    )


async def upsert_commune(session: AsyncSession, *, now: datetime, **fields: Any) -> tuple[Commune, bool]:
    """Create or update a commune by slug; the officers' group is kept unless given."""
    row = await commune_by_slug(session, slug=fields["slug"])
    created = row is None
    if row is None:
        row = Commune(created_at=now, villages=[], is_default=False)
        session.add(row)
    for key, value in fields.items():
        setattr(row, key, value)
    row.updated_at = now
    await session.flush()
    return row, created


# -- officers and invites -------------------------------------------------------------
async def officer_by_identity(session: AsyncSession, *, channel: str, user_key: str) -> Officer | None:
    return await session.scalar(
        select(Officer).where(Officer.channel == channel, Officer.user_key == user_key)
    )


async def officer_by_id(session: AsyncSession, *, officer_id: int | None) -> Officer | None:
    return await session.get(Officer, officer_id) if officer_id is not None else None


async def officers_of(
    session: AsyncSession, *, commune_id: int, roles: Iterable[str] | None = None
) -> list[Officer]:
    query = select(Officer).where(Officer.commune_id == commune_id, Officer.active.is_(True))
    if roles is not None:
        query = query.where(Officer.role.in_(list(roles)))
    return list((await session.scalars(query.order_by(Officer.id))).all())


async def province_officers(session: AsyncSession, *, province: str) -> list[Officer]:
    query = (
        select(Officer)
        .join(Commune, Commune.id == Officer.commune_id)
        .where(Commune.province == province, Officer.role == "province", Officer.active.is_(True))
        .order_by(Officer.id)
    )
    return list((await session.scalars(query)).all())


async def invite_by_code(session: AsyncSession, *, code: str) -> InviteCode | None:
    return await session.get(InviteCode, code)


# -- cases --------------------------------------------------------------------------
async def case_by_code(session: AsyncSession, *, code: str) -> Case | None:
    return await session.scalar(select(Case).where(Case.code == code))


async def case_by_draft(session: AsyncSession, *, token: str) -> Case | None:
    return await session.scalar(select(Case).where(Case.draft_token == token))


async def cases_by_pseudonym(session: AsyncSession, *, pseudonym: str, limit: int = 10) -> list[Case]:
    query = (
        select(Case).where(Case.reporter_pseudonym == pseudonym)
        .order_by(Case.created_at.desc()).limit(limit)
    )
    return list((await session.scalars(query)).all())


async def open_cases(session: AsyncSession, *, commune_ids: Sequence[int]) -> list[Case]:
    query = (
        select(Case)
        .where(Case.commune_id.in_(list(commune_ids)), Case.closed_at.is_(None))
        .order_by(Case.urgent.desc(), Case.created_at)
    )
    return list((await session.scalars(query)).all())


async def cases_created_between(
    session: AsyncSession, *, start: datetime, end: datetime, commune_ids: Sequence[int] | None = None
) -> list[Case]:
    query = select(Case).where(Case.created_at >= start, Case.created_at < end)
    if commune_ids is not None:
        query = query.where(Case.commune_id.in_(list(commune_ids)))
    return list((await session.scalars(query.order_by(Case.created_at))).all())


# -- audit ----------------------------------------------------------------------------
async def add_event(
    session: AsyncSession,
    *,
    case_id: int,
    at: datetime,
    actor: str,
    action: str,
    officer_id: int | None = None,
    detail: str | None = None,
    text_enc: str | None = None,
) -> CaseEvent:
    event = CaseEvent(
        case_id=case_id, at=at, actor=actor, action=action, officer_id=officer_id,
        detail=detail[:120] if detail else None, text_enc=text_enc,
    )
    session.add(event)
    await session.flush()
    return event


async def events_for(session: AsyncSession, *, case_id: int) -> list[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    return list((await session.scalars(query)).all())


# -- timers ---------------------------------------------------------------------------
async def add_timer(
    session: AsyncSession,
    *,
    case_id: int,
    limit_name: str,
    level: int,
    target: str,
    deadline: datetime,
    due_at: datetime,
) -> bool:
    """Add one escalation timer; False when that (case, limit, level) exists already."""
    exists = await session.scalar(
        select(CaseTimer.id).where(
            CaseTimer.case_id == case_id, CaseTimer.limit_name == limit_name,
            CaseTimer.level == level,
        )
    )
    if exists is not None:
        return False
    session.add(CaseTimer(
        case_id=case_id, limit_name=limit_name, level=level, target=target,
        deadline=deadline, due_at=due_at,
    ))
    await session.flush()
    return True


async def cancel_timers(
    session: AsyncSession, *, case_id: int, now: datetime, limit_names: Iterable[str] | None = None
) -> int:
    stmt = update(CaseTimer).where(
        CaseTimer.case_id == case_id, CaseTimer.fired_at.is_(None), CaseTimer.cancelled_at.is_(None)
    )
    if limit_names is not None:
        stmt = stmt.where(CaseTimer.limit_name.in_(list(limit_names)))
    result = await session.execute(stmt.values(cancelled_at=now))
    return int(result.rowcount or 0)


async def pending_timers(session: AsyncSession, *, case_id: int) -> list[CaseTimer]:
    query = (
        select(CaseTimer)
        .where(CaseTimer.case_id == case_id, CaseTimer.fired_at.is_(None),
               CaseTimer.cancelled_at.is_(None))
        .order_by(CaseTimer.due_at)
    )
    return list((await session.scalars(query)).all())


async def due_timers(session: AsyncSession, *, now: datetime, limit: int = 100) -> list[int]:
    query = (
        select(CaseTimer.id)
        .where(CaseTimer.fired_at.is_(None), CaseTimer.cancelled_at.is_(None),
               CaseTimer.due_at <= now)
        .order_by(CaseTimer.due_at, CaseTimer.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def claim_timer(session: AsyncSession, *, timer_id: int, now: datetime) -> CaseTimer | None:
    """Mark a due timer fired; None when another worker (or a cancel) got there first.
    The conditional UPDATE is what makes every escalation happen exactly once. On
    PostgreSQL the row is first taken with FOR UPDATE SKIP LOCKED, so a worker
    passes over a timer another worker is firing instead of waiting for its commit."""
    if dialect_of(session) == "postgresql":
        free = await session.scalar(
            select(CaseTimer.id)
            .where(CaseTimer.id == timer_id, CaseTimer.fired_at.is_(None),
                   CaseTimer.cancelled_at.is_(None))
            .with_for_update(skip_locked=True)
        )
        if free is None:
            return None
    result = await session.execute(
        update(CaseTimer)
        .where(CaseTimer.id == timer_id, CaseTimer.fired_at.is_(None),
               CaseTimer.cancelled_at.is_(None))
        .values(fired_at=now)
    )
    if not result.rowcount:
        return None
    return await session.get(CaseTimer, timer_id)


async def next_timer_due(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        select(func.min(CaseTimer.due_at)).where(
            CaseTimer.fired_at.is_(None), CaseTimer.cancelled_at.is_(None)
        )
    )


async def fired_limits(session: AsyncSession, *, case_ids: Sequence[int]) -> dict[int, set[str]]:
    """Per case, the limits that were breached (any level fired)."""
    if not case_ids:
        return {}
    rows = await session.execute(
        select(CaseTimer.case_id, CaseTimer.limit_name)
        .where(CaseTimer.case_id.in_(list(case_ids)), CaseTimer.fired_at.is_not(None))
    )
    out: dict[int, set[str]] = {}
    for case_id, name in rows:
        out.setdefault(case_id, set()).add(name)
    return out


# -- purge ----------------------------------------------------------------------------
async def delete_case_outbox(session: AsyncSession, *, prefixes: Sequence[str]) -> int:
    """Delete delivered (or dead) outbox rows whose dedupe key starts with a prefix."""
    if not prefixes:
        return 0
    result = await session.execute(
        delete(OutboxMessage).where(
            or_(*[OutboxMessage.dedupe_key.startswith(p, autoescape=True) for p in prefixes]),
            OutboxMessage.status.in_(["sent", "dead"]),
        )
    )
    return int(result.rowcount or 0)
