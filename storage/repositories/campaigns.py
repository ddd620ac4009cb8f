"""Subscriptions, campaigns and the exactly-once delivery ledger.

Functions take the session keyword-only and never commit: the caller's unit of
work decides. `queue_batch` writes the outbox rows and their ledger rows in the
caller's transaction, so a crash either keeps both or neither."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_of
from storage.models import OutboxMessage, User
from storage.models.campaigns import Campaign, CampaignDelivery, Subscription

__all__ = [
    "ACTIVE_STATUSES",
    "ALL_COMMUNES",
    "Target",
    "campaign_by_name",
    "campaigns",
    "count_targets",
    "create_campaign",
    "due_campaign_ids",
    "get_subscription",
    "lock_campaign",
    "next_campaign_due",
    "queue_batch",
    "step_stats",
    "subscribe",
    "target_batch",
    "unsubscribe",
]

ALL_COMMUNES = "all"
ACTIVE_STATUSES = ("scheduled", "running")


@dataclass(frozen=True, slots=True)
class Target:
    subscription_id: int
    channel: str
    chat_id: str
    user_key: str


# -- subscriptions ---------------------------------------------------------------------


async def get_subscription(
    session: AsyncSession, *, channel: str, user_key: str
) -> Subscription | None:
    return await session.scalar(
        select(Subscription).where(
            Subscription.channel == channel, Subscription.user_key == user_key
        )
    )


async def subscribe(
    session: AsyncSession,
    *,
    channel: str,
    user_key: str,
    chat_id: str,
    commune_slug: str | None,
    now: datetime,
) -> tuple[Subscription, bool]:
    """Subscribe (or re-subscribe); False when already active (commune updated)."""
    sub = await get_subscription(session, channel=channel, user_key=user_key)
    if sub is None:
        sub = Subscription(
            channel=channel, user_key=user_key, chat_id=chat_id, commune_slug=commune_slug,
            active=True, created_at=now, updated_at=now,
        )
        session.add(sub)
        await session.flush()
        return sub, True
    was_active = sub.active
    sub.active = True
    sub.chat_id = chat_id
    if commune_slug is not None:
        sub.commune_slug = commune_slug
    sub.updated_at = now
    return sub, not was_active


async def unsubscribe(session: AsyncSession, *, channel: str, user_key: str, now: datetime) -> bool:
    sub = await get_subscription(session, channel=channel, user_key=user_key)
    if sub is None or not sub.active:
        return False
    sub.active = False
    sub.updated_at = now
    return True


# -- campaigns ------------------------------------------------------------------------------


async def campaign_by_name(session: AsyncSession, *, name: str) -> Campaign | None:
    return await session.scalar(select(Campaign).where(Campaign.name == name))


async def campaigns(session: AsyncSession) -> list[Campaign]:
    return list((await session.scalars(select(Campaign).order_by(Campaign.id))).all())


async def create_campaign(
    session: AsyncSession,
    *,
    name: str,
    title: str,
    entries: Sequence[str],
    communes: Sequence[str],
    intros: dict[str, str] | None = None,
    now: datetime,
) -> Campaign:
    campaign = Campaign(
        name=name, title=title, entries=list(entries), communes=list(communes),
        intros=dict(intros or {}), status="draft", step=0, cursor=0,
        interval_seconds=7 * 24 * 3600, created_at=now, updated_at=now,
    )
    session.add(campaign)
    await session.flush()
    return campaign


async def due_campaign_ids(session: AsyncSession, *, now: datetime) -> list[int]:
    rows = await session.scalars(
        select(Campaign.id)
        .where(Campaign.status.in_(ACTIVE_STATUSES), Campaign.next_at <= now)
        .order_by(Campaign.next_at, Campaign.id)
    )
    return list(rows.all())


async def next_campaign_due(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        select(func.min(Campaign.next_at)).where(Campaign.status.in_(ACTIVE_STATUSES))
    )


async def lock_campaign(session: AsyncSession, *, campaign_id: int) -> Campaign | None:
    """The campaign row, locked for this transaction. On PostgreSQL a campaign
    another worker is sending right now is skipped (None); SQLite has one writer."""
    query = select(Campaign).where(Campaign.id == campaign_id)
    if dialect_of(session) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return await session.scalar(query)


# -- targets and queueing ----------------------------------------------------------------------


def _targets(campaign: Campaign, step: int):
    blocked = exists().where(
        User.channel == Subscription.channel, User.user_key == Subscription.user_key,
        User.blocked.is_(True),
    )
    already = exists().where(
        CampaignDelivery.campaign_id == campaign.id, CampaignDelivery.step == step,
        CampaignDelivery.subscription_id == Subscription.id,
    )
    query = select(Subscription).where(Subscription.active.is_(True), ~blocked, ~already)
    communes = list(campaign.communes or [])
    if ALL_COMMUNES not in communes:
        query = query.where(Subscription.commune_slug.in_(communes))
    return query


async def target_batch(
    session: AsyncSession, *, campaign: Campaign, step: int, after_id: int, limit: int
) -> list[Target]:
    """The next subscribers (by id, after `after_id`) still owed `step`: active, in
    the campaign's communes, not blocked, not in the ledger for this step."""
    query = (
        _targets(campaign, step)
        .with_only_columns(
            Subscription.id, Subscription.channel, Subscription.chat_id, Subscription.user_key
        )
        .where(Subscription.id > after_id)
        .order_by(Subscription.id)
        .limit(limit)
    )
    return [Target(*row) for row in (await session.execute(query)).all()]


async def count_targets(session: AsyncSession, *, campaign: Campaign, step: int) -> int:
    query = _targets(campaign, step).with_only_columns(func.count(Subscription.id))
    return int(await session.scalar(query) or 0)


async def queue_batch(
    session: AsyncSession,
    *,
    campaign: Campaign,
    step: int,
    targets: Sequence[Target],
    text: str,
    priority: int,
    now: datetime,
) -> int:
    """Queue `text` to every target: outbox rows plus ledger rows, in one go."""
    if not targets:
        return 0
    outbox_rows = [
        {
            "channel": t.channel, "chat_id": t.chat_id, "user_key": t.user_key, "text": text,
            "buttons": [], "kind": "campaign", "priority": priority, "status": "pending",
            "attempts": 0, "next_attempt_at": now, "created_at": now,
        }
        for t in targets
    ]
    ids = (
        await session.scalars(
            insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True),
            outbox_rows,
        )
    ).all()
    await session.execute(
        insert(CampaignDelivery),
        [
            {
                "campaign_id": campaign.id, "step": step, "subscription_id": t.subscription_id,
                "outbox_id": outbox_id, "queued_at": now,
            }
            for t, outbox_id in zip(targets, ids, strict=True)
        ],
    )
    return len(targets)


async def step_stats(session: AsyncSession, *, campaign_id: int) -> dict[int, dict[str, int]]:
    """Per step: how many messages are queued, by outbox status (sent, pending, ...)."""
    rows = await session.execute(
        select(CampaignDelivery.step, OutboxMessage.status, func.count())
        .select_from(CampaignDelivery)
        .outerjoin(OutboxMessage, and_(OutboxMessage.id == CampaignDelivery.outbox_id))
        .where(CampaignDelivery.campaign_id == campaign_id)
        .group_by(CampaignDelivery.step, OutboxMessage.status)
    )
    stats: dict[int, dict[str, int]] = {}
    for step, status, n in rows.all():
        stats.setdefault(step, {})[status or "gone"] = int(n)
    return stats
