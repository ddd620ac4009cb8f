"""Guidance feedback and knowledge gaps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.feedback import KbFeedback, KbGap

__all__ = ["add_feedback", "add_gap", "list_gaps", "feedback_counts"]


async def add_feedback(session: AsyncSession, *, entry_id: str, helpful: bool, now: datetime) -> None:
    session.add(KbFeedback(entry_id=entry_id, helpful=helpful, created_at=now))


async def add_gap(
    session: AsyncSession, *, text: str, best_topic: str | None, score: float, now: datetime
) -> None:
    session.add(KbGap(text=text[:1000], best_topic=best_topic, score=score, created_at=now))


async def list_gaps(session: AsyncSession, *, limit: int = 200) -> list[KbGap]:
    rows = await session.scalars(select(KbGap).order_by(KbGap.created_at.desc()).limit(limit))
    return list(rows.all())


async def feedback_counts(session: AsyncSession) -> dict[str, tuple[int, int]]:
    rows = await session.execute(
        select(KbFeedback.entry_id, KbFeedback.helpful, func.count()).group_by(
            KbFeedback.entry_id, KbFeedback.helpful
        )
    )
    out: dict[str, list[int]] = {}
    for entry_id, helpful, count in rows:
        out.setdefault(entry_id, [0, 0])[0 if helpful else 1] += count
    return {k: (v[0], v[1]) for k, v in out.items()}
