"""Plans that remind: a commune's plan, its units and their officers, the tasks,
their dated occurrences, the exactly-once reminder ledger and an audit trail.

Dates of occurrences are local calendar dates (the commune's time zone); every
instant is an aware UTC datetime.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, JSONType, UTCDateTime, utcnow

__all__ = ["Occurrence", "Plan", "PlanEvent", "ReminderSent", "Task", "Unit", "UnitMember"]


class Plan(Base):
    """One loaded plan (a reviewed draft) of one commune for one year."""

    __tablename__ = "pl_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("hl_communes.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(200), default=None)
    # The reviewed draft as loaded (the importer's dict shape), for reference.
    draft: Mapped[dict] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Unit(Base):
    """A unit of a commune (Trạm Y tế, Công an xã, ...); it outlives one year's plan."""

    __tablename__ = "pl_units"
    __table_args__ = (UniqueConstraint("commune_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("hl_communes.id"))
    name: Mapped[str] = mapped_column(String(200))
    # The name folded (lower case, no diacritics): what matching uses.
    key: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnitMember(Base):
    """An officer belongs to one or more units."""

    __tablename__ = "pl_unit_members"

    unit_id: Mapped[int] = mapped_column(
        ForeignKey("pl_units.id", ondelete="CASCADE"), primary_key=True
    )
    officer_id: Mapped[int] = mapped_column(
        ForeignKey("hl_officers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Task(Base):
    """A task of a plan: a unit's bullet, a reporting deadline or an event.

    Owner: `owner_officer_id`, else the members of `unit_id`, else the commune's
    supervisors. Due: `deadline` (one occurrence), `recurrence` (several) or
    neither (an ongoing task: listed, never reminded)."""

    __tablename__ = "pl_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("pl_plans.id", ondelete="CASCADE"), index=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("hl_communes.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("pl_units.id"), default=None)
    owner_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("hl_officers.id"), default=None
    )
    source: Mapped[str] = mapped_column(String(16))  # task | deadline | event
    kind: Mapped[str] = mapped_column(String(16), default="other")
    text: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date | None] = mapped_column(Date, default=None)
    recurrence: Mapped[str | None] = mapped_column(String(16), default=None)
    # The date as written in the draft ("--06-01", "lunar:--08-15", ...).
    date_spec: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Occurrence(Base):
    """One due date of one task, with its state: open, or done (when, by whom, a
    note); an open occurrence may be snoozed until a local date."""

    __tablename__ = "pl_occurrences"
    __table_args__ = (
        UniqueConstraint("task_id", "due_date"),
        Index("ix_pl_occurrences_open_due", "state", "due_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("pl_tasks.id", ondelete="CASCADE"))
    commune_id: Mapped[int] = mapped_column(ForeignKey("hl_communes.id"), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(8), default="open")  # open | done
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("hl_officers.id"), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    snoozed_until: Mapped[date | None] = mapped_column(Date, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReminderSent(Base):
    """The exactly-once ledger: one row per (occurrence, person, step), written in
    the same transaction as the outbox message; the unique constraint decides
    between competing workers. `status` is "sent", or "skipped" for a stale step
    collapsed into a later one."""

    __tablename__ = "pl_reminders_sent"
    __table_args__ = (UniqueConstraint("occurrence_key", "officer_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "occ:<id>" for an occurrence, "digest:<commune id>:<monday>" for a digest.
    occurrence_key: Mapped[str] = mapped_column(String(64))
    occurrence_id: Mapped[int | None] = mapped_column(
        ForeignKey("pl_occurrences.id", ondelete="CASCADE"), default=None, index=True
    )
    officer_id: Mapped[int] = mapped_column(ForeignKey("hl_officers.id", ondelete="CASCADE"))
    # "-14" .. "0" before the due date, "+1" .. "+3" overdue, "esc", "digest".
    step: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default="sent")
    slot: Mapped[datetime] = mapped_column(UTCDateTime)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlanEvent(Base):
    """Audit trail of what officers did to occurrences and of assignments."""

    __tablename__ = "pl_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("hl_communes.id"), default=None)
    occurrence_id: Mapped[int | None] = mapped_column(
        ForeignKey("pl_occurrences.id", ondelete="CASCADE"), default=None, index=True
    )
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("hl_officers.id"), default=None)
    action: Mapped[str] = mapped_column(String(24))  # loaded | done | snoozed | assigned | ...
    detail: Mapped[str | None] = mapped_column(String(200), default=None)
