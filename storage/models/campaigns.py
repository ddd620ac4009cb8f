"""Safety campaigns: who subscribed, what is sent when, and the ledger that makes
each message go to each subscriber at most once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, JSONType, UTCDateTime, utcnow

__all__ = ["Campaign", "CampaignDelivery", "Subscription"]


class Subscription(Base):
    """A parent who asked for campaign messages (/nhantin); `active` False after
    /huynhantin. One row per platform identity, kept when they stop (re-subscribing
    reuses it, so the ledger still knows what they already got)."""

    __tablename__ = "cp_subscriptions"
    __table_args__ = (
        UniqueConstraint("channel", "user_key"),
        Index("ix_cp_subscriptions_active", "active", "commune_slug", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_key: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[str] = mapped_column(String(128))
    # None: commune unknown; such subscribers get only campaigns for every commune.
    commune_slug: Mapped[str | None] = mapped_column(String(64), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Campaign(Base):
    """A set of knowledge-base entries, one message per `interval_seconds` from
    `start_at`. `step`/`cursor` say where the sending job is: the next entry to
    send and the last subscription id already queued for it (resume after a crash)."""

    __tablename__ = "cp_campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    entries: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Commune slugs, or ["all"].
    communes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Optional lead-in per entry id (e.g. "read this with your child").
    intros: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=7 * 24 * 3600)
    # draft (no schedule) | scheduled | running | done | stopped
    status: Mapped[str] = mapped_column(String(16), default="draft")
    step: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CampaignDelivery(Base):
    """The exactly-once ledger: written in the same transaction as the outbox row,
    and unique per (campaign, step, subscriber), so no retry or second worker can
    queue the same message twice."""

    __tablename__ = "cp_deliveries"
    __table_args__ = (UniqueConstraint("campaign_id", "step", "subscription_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("cp_campaigns.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("cp_subscriptions.id", ondelete="CASCADE"), index=True
    )
    outbox_id: Mapped[int | None] = mapped_column(Integer, default=None)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
