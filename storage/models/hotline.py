"""Hotline queue: communes, officers, invite codes, cases, their audit trail and
time-limit timers.

Personal data never sits here in plaintext: the narrative, free-text place/time,
the phone number, notes and messages are stored encrypted (`*_enc` columns, made
by handlers.crypto.Cipher); the reporter is a keyed pseudonym plus an encrypted
reply address. Coded fields (category, age range, ...) stay plain for statistics.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, JSONType, UTCDateTime, utcnow

__all__ = ["Case", "CaseEvent", "CaseTimer", "Commune", "InviteCode", "Officer"]


class Commune(Base):
    __tablename__ = "hl_communes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    province: Mapped[str] = mapped_column(String(80))
    former_district: Mapped[str | None] = mapped_column(String(80), default=None)
    hotline: Mapped[str | None] = mapped_column(String(32), default=None)
    villages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The provincial queue that takes reports whose commune is unknown.
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    group_channel: Mapped[str | None] = mapped_column(String(16), default=None)
    group_chat_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Officer(Base):
    """A child-protection officer: a platform identity (officers are not anonymous)
    bound to a commune and a role (officer | supervisor | province)."""

    __tablename__ = "hl_officers"
    __table_args__ = (UniqueConstraint("channel", "user_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_key: Mapped[str] = mapped_column(String(128))
    # The private chat the officer registered from (case details go only there).
    chat_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(80), default=None)
    commune_id: Mapped[int] = mapped_column(ForeignKey("hl_communes.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InviteCode(Base):
    __tablename__ = "hl_invites"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("hl_communes.id"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    used_for: Mapped[str | None] = mapped_column(String(16), default=None)  # officer | group


class Case(Base):
    __tablename__ = "hl_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    # The intake draft's token: a second confirm of the same draft cannot make a second case.
    draft_token: Mapped[str] = mapped_column(String(40), unique=True)
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("hl_communes.id"), default=None, index=True)
    village: Mapped[str | None] = mapped_column(String(80), default=None)
    category: Mapped[str] = mapped_column(String(24), default="other")
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    age_range: Mapped[str | None] = mapped_column(String(16), default=None)
    when_code: Mapped[str | None] = mapped_column(String(16), default=None)
    relation: Mapped[str | None] = mapped_column(String(16), default=None)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    # Encrypted JSON: narrative, free-text place and time, phone number.
    details_enc: Mapped[str | None] = mapped_column(Text, default=None)
    reporter_pseudonym: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    reporter_address_enc: Mapped[str | None] = mapped_column(Text, default=None)
    step: Mapped[str] = mapped_column(String(24), default="received")
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("hl_officers.id"), default=None)
    emergency_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Statistics fields (national hotline case-record categories).
    child_age_group: Mapped[str | None] = mapped_column(String(16), default=None)
    child_sex: Mapped[str | None] = mapped_column(String(16), default=None)
    place_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    harmer_relation: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    emergency_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    plan_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    separation_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    separation_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class CaseEvent(Base):
    """The audit trail: who did what to a case, when (views included)."""

    __tablename__ = "hl_case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("hl_cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(16))  # reporter | officer | system
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("hl_officers.id"), default=None)
    action: Mapped[str] = mapped_column(String(32))
    # Plain, non-personal detail (a step name, a referral target, a field=value).
    detail: Mapped[str | None] = mapped_column(String(120), default=None)
    # Encrypted free text (a note, a message, information the reporter added).
    text_enc: Mapped[str | None] = mapped_column(Text, default=None)


class CaseTimer(Base):
    """One escalation level of one time limit of one case; fires at most once."""

    __tablename__ = "hl_case_timers"
    __table_args__ = (
        UniqueConstraint("case_id", "limit_name", "level"),
        Index("ix_hl_case_timers_due", "fired_at", "cancelled_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("hl_cases.id", ondelete="CASCADE"))
    limit_name: Mapped[str] = mapped_column(String(24))
    level: Mapped[int] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(16))  # claimer | supervisors | province
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
