"""The plans service: loading a reviewed draft into units, tasks and occurrences,
assigning officers to units, who owns what, and the officers' actions (done, snooze).

Due dates of a plan (year Y), documented here once:

- a task with a ``deadline`` and no recurrence: that date;
- ``monthly``: the last day of every month of Y; ``quarterly``: 31/3, 30/6, 30/9,
  31/12; ``semiannual``: 30/6 and 31/12; ``annual``: 31/12. When the task also has a
  ``deadline`` (the text named a day), that day is the anchor instead: the same day of
  the month (clamped to the month's length) in every period of Y containing it, e.g.
  monthly + 2026-03-10 -> the 10th of each month;
- a task with neither is ongoing ("thường xuyên"): listed, never reminded;
- a reporting deadline: its date ("--MM-DD" means in Y); owned by the unit named in
  ``to`` when one matches, else by the commune's supervisors;
- an event: "--MM-DD" in Y, or "lunar:--MM-DD" converted with the Vietnamese lunar
  calendar (knowledge.vncalendar) for lunar year Y; an event without a date is kept as
  an ongoing task; events are owned by the commune's supervisors.

Owners of an occurrence: the task's owner officer, else every active member of its
unit, else the commune's supervisors.
"""

from __future__ import annotations

import calendar
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.plans import PlanDraft
from knowledge.vncalendar import lunar_to_solar
from storage.models.hotline import Officer
from storage.models.plans import Occurrence, Plan, Task, Unit
from storage.repositories import hotline as hl_repo
from storage.repositories import plans as repo

__all__ = [
    "SUPERVISOR_ROLES",
    "LoadResult",
    "PlanLoadError",
    "TaskSpec",
    "build_specs",
    "can_act",
    "find_officer",
    "find_unit",
    "fold",
    "line_of",
    "load_plan",
    "mark_done",
    "occurrence_dates",
    "owners",
    "snooze",
    "spec_date",
    "assign_unit",
]

SUPERVISOR_ROLES = ("supervisor",)
_QUARTER_ENDS = (3, 6, 9, 12)
_PERIOD = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}


class PlanLoadError(ValueError):
    """A draft that validates as YAML but cannot be loaded; `loc` is the path to the
    offending node (for a line number), `reason` says why."""

    def __init__(self, loc: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.loc = loc
        self.reason = reason


def fold(text: str) -> str:
    """Lower case, no diacritics, single spaces, '-' and '–' as spaces."""
    text = unicodedata.normalize("NFD", (text or "").casefold()).replace("đ", "d")
    text = "".join(c for c in text if not unicodedata.combining(c))
    for mark in "-–—.,;:()":
        text = text.replace(mark, " ")
    return " ".join(text.split())


# -- dates ------------------------------------------------------------------------------
def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def occurrence_dates(deadline: date | None, recurrence: str | None, year: int) -> list[date]:
    """Due dates of a unit's task in plan year `year` (see the module docstring)."""
    if recurrence is None:
        return [deadline] if deadline else []
    period = _PERIOD[recurrence]
    if deadline is not None:
        first = (deadline.month - 1) % period + 1
        return [_clamped(year, m, deadline.day) for m in range(first, 13, period)]
    if recurrence == "annual":
        return [date(year, 12, 31)]
    ends = range(period, 13, period)
    return [_last_day(year, m) for m in ends]


def spec_date(spec: str, year: int) -> date:
    """A draft date: "YYYY-MM-DD", "--MM-DD" (in `year`) or "lunar:--MM-DD" (lunar
    year `year`); ValueError when that day does not exist."""
    if spec.startswith("lunar:--"):
        month, day = (int(x) for x in spec.removeprefix("lunar:--").split("-"))
        return lunar_to_solar(year, month, day)
    if spec.startswith("--"):
        month, day = (int(x) for x in spec[2:].split("-"))
        return date(year, month, day)
    return date.fromisoformat(spec)


# -- loading ------------------------------------------------------------------------------
@dataclass
class TaskSpec:
    unit: str | None  # a unit name of the draft, None for the supervisors
    source: str  # task | deadline | event
    kind: str
    text: str
    deadline: date | None
    recurrence: str | None
    date_spec: str | None
    dates: list[date]
    loc: tuple[str | int, ...] = ()


def find_unit(units: list[Unit], name: str, *, fuzzy: bool = True) -> Unit | None:
    """The unit called `name`: same folded name or alias, else (`fuzzy`) the only
    unit whose folded name contains it or is contained in it."""
    key = fold(name)
    if not key:
        return None
    for unit in units:
        if unit.key == key or key in {fold(a) for a in unit.aliases or []}:
            return unit
    if not fuzzy:
        return None
    near = [u for u in units if key in u.key or u.key in key]
    return near[0] if len(near) == 1 else None


def build_specs(draft: PlanDraft) -> list[TaskSpec]:
    """Every task of the draft with its due dates; PlanLoadError on a date that
    cannot be resolved."""
    year = draft.year
    specs: list[TaskSpec] = []
    for ui, unit in enumerate(draft.units):
        for ti, task in enumerate(unit.tasks):
            loc = ("units", ui, "tasks", ti)
            deadline = date.fromisoformat(task.deadline) if task.deadline else None
            specs.append(TaskSpec(
                unit=unit.name, source="task", kind=task.kind, text=task.text, deadline=deadline,
                recurrence=task.recurrence, date_spec=task.deadline,
                dates=occurrence_dates(deadline, task.recurrence, year), loc=loc,
            ))
    unit_names = [u.name for u in draft.units]
    folded_units = {fold(n): n for n in unit_names}
    for i, item in enumerate(draft.reporting_deadlines):
        loc = ("reporting_deadlines", i, "date")
        try:
            due = spec_date(item.date, year)
        except ValueError as exc:
            raise PlanLoadError(loc, f"ngày không hợp lệ / invalid date {item.date!r}: {exc}") from None
        to_key = fold(item.to)
        owner = folded_units.get(to_key)
        if owner is None and to_key:
            near = [n for k, n in folded_units.items() if k and (k in to_key or to_key in k)]
            owner = near[0] if len(near) == 1 else None
        specs.append(TaskSpec(
            unit=owner, source="deadline", kind="report", text=item.what, deadline=due,
            recurrence=None, date_spec=item.date, dates=[due], loc=loc,
        ))
    for i, event in enumerate(draft.events):
        loc = ("events", i, "date")
        due = None
        if event.date:
            try:
                due = spec_date(event.date, year)
            except ValueError as exc:
                raise PlanLoadError(
                    loc, f"ngày không tồn tại / no such day {event.date!r} in {year}: {exc}"
                ) from None
        specs.append(TaskSpec(
            unit=None, source="event", kind="event", text=event.name, deadline=due,
            recurrence=None, date_spec=event.date, dates=[due] if due else [], loc=loc,
        ))
    return specs


@dataclass
class LoadResult:
    plan: Plan
    units: list[Unit] = field(default_factory=list)
    new_units: int = 0
    tasks: int = 0
    occurrences: int = 0
    replaced: int = 0


async def load_plan(
    session: AsyncSession,
    *,
    draft: PlanDraft,
    commune_id: int,
    now: datetime,
    source: str | None = None,
    replace: bool = False,
) -> LoadResult:
    """Write a validated draft for a commune, in the caller's transaction (nothing is
    committed here, so a failure half-way leaves nothing behind)."""
    specs = build_specs(draft)  # all date problems surface before any write
    existing = [p for p in await repo.plans_of(session, commune_id=commune_id)
                if p.active and p.year == draft.year]
    if existing and not replace:
        raise PlanLoadError((), (
            f"xã đã có kế hoạch năm {draft.year} (dùng --replace để thay) / "
            f"the commune already has a {draft.year} plan (use --replace)"
        ))
    for old in existing:
        old.active = False
    plan = Plan(
        commune_id=commune_id, issuer=draft.issuer, level=draft.level, year=draft.year,
        source=(source or "")[:200] or None, draft=draft.to_dict(), active=True, created_at=now,
    )
    session.add(plan)
    await session.flush()
    units = await repo.units_of(session, commune_id=commune_id)
    by_name: dict[str, Unit] = {}
    new_units = 0
    for du in draft.units:
        unit = find_unit(units, du.name, fuzzy=False)
        if unit is None:
            unit = Unit(commune_id=commune_id, name=du.name[:200], key=fold(du.name)[:200],
                        aliases=list(du.aliases), created_at=now)
            session.add(unit)
            await session.flush()
            units.append(unit)
            new_units += 1
        by_name[du.name] = unit
    result = LoadResult(plan=plan, units=list(by_name.values()), new_units=new_units,
                        replaced=len(existing))
    for spec in specs:
        unit = by_name.get(spec.unit) if spec.unit else None
        task = Task(
            plan_id=plan.id, commune_id=commune_id, unit_id=unit.id if unit else None,
            source=spec.source, kind=spec.kind, text=spec.text, deadline=spec.deadline,
            recurrence=spec.recurrence, date_spec=spec.date_spec, created_at=now,
        )
        session.add(task)
        await session.flush()
        result.tasks += 1
        for due in sorted(set(spec.dates)):
            session.add(Occurrence(task_id=task.id, commune_id=commune_id, due_date=due,
                                   state="open", updated_at=now))
            result.occurrences += 1
    await session.flush()
    await repo.add_event(session, at=now, action="loaded", commune_id=commune_id,
                         detail=f"plan {plan.id} year {plan.year}")
    return result


def line_of(text: str, loc: tuple[str | int, ...]) -> int:
    """1-based line of the YAML node at `loc` in `text` (0 when unknown)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return 0
    if node is None:
        return 0
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
    return node.start_mark.line + 1


# -- people ----------------------------------------------------------------------------------
async def find_officer(session: AsyncSession, *, ref: str) -> Officer | None:
    """An officer by id ("12"), by "channel:user_key" or by a user key unique
    across channels."""
    ref = ref.strip()
    if ref.isdigit():
        found = await session.get(Officer, int(ref))
        if found is not None:
            return found
    if ":" in ref:
        channel, key = ref.split(":", 1)
        found = await hl_repo.officer_by_identity(session, channel=channel, user_key=key)
        if found is not None:
            return found
    rows = list((await session.scalars(select(Officer).where(Officer.user_key == ref))).all())
    return rows[0] if len(rows) == 1 else None


async def assign_unit(
    session: AsyncSession,
    *,
    commune_id: int,
    unit_name: str,
    officer: Officer,
    now: datetime,
    create: bool = False,
) -> tuple[Unit, bool]:
    """Make `officer` a member of the commune's unit `unit_name`; returns (unit,
    newly added). LookupError when no unit matches (and `create` is off)."""
    units = await repo.units_of(session, commune_id=commune_id)
    unit = find_unit(units, unit_name)
    if unit is None:
        if not create:
            raise LookupError(unit_name)
        unit = Unit(commune_id=commune_id, name=unit_name[:200], key=fold(unit_name)[:200],
                    aliases=[], created_at=now)
        session.add(unit)
        await session.flush()
    added = await repo.add_member(session, unit_id=unit.id, officer_id=officer.id, now=now)
    if added:
        await repo.add_event(session, at=now, action="assigned", commune_id=commune_id,
                             officer_id=officer.id, detail=f"unit {unit.id}")
    return unit, added


@dataclass
class Owners:
    """Who gets an occurrence's reminders, with since when they are recipients."""

    people: list[tuple[Officer, datetime]]
    by: str  # officer | unit | supervisors


async def owners(
    session: AsyncSession,
    tasks: list[Task],
) -> tuple[dict[int, Owners], dict[int, list[Officer]]]:
    """Owners per task id and supervisors per commune id, in a few queries."""
    commune_ids = {t.commune_id for t in tasks}
    supervisors = {
        cid: await hl_repo.officers_of(session, commune_id=cid, roles=SUPERVISOR_ROLES)
        for cid in commune_ids
    }
    members: dict[int, list[tuple[Officer, datetime]]] = {}
    for unit_id, officer, since in await repo.members_of_units(
        session, unit_ids=[t.unit_id for t in tasks if t.unit_id is not None]
    ):
        members.setdefault(unit_id, []).append((officer, since))
    owner_ids = {t.owner_officer_id for t in tasks if t.owner_officer_id is not None}
    named = {}
    if owner_ids:
        rows = await session.scalars(select(Officer).where(Officer.id.in_(owner_ids)))
        named = {o.id: o for o in rows.all() if o.active}
    out: dict[int, Owners] = {}
    for task in tasks:
        officer = named.get(task.owner_officer_id) if task.owner_officer_id else None
        if officer is not None:
            out[task.id] = Owners([(officer, officer.created_at)], "officer")
        elif task.unit_id is not None and members.get(task.unit_id):
            out[task.id] = Owners(list(members[task.unit_id]), "unit")
        else:
            out[task.id] = Owners(
                [(s, s.created_at) for s in supervisors.get(task.commune_id, [])], "supervisors"
            )
    return out, supervisors


async def can_act(session: AsyncSession, *, officer: Officer, task: Task) -> bool:
    """Owners and the commune's supervisors may mark an occurrence done or snooze it."""
    if not officer.active or officer.commune_id != task.commune_id:
        return False
    if officer.role in SUPERVISOR_ROLES or officer.role == "province":
        return True
    found, _ = await owners(session, [task])
    return any(o.id == officer.id for o, _ in found[task.id].people)


async def mark_done(
    session: AsyncSession, *, occurrence: Occurrence, officer: Officer, note: str | None,
    now: datetime,
) -> bool:
    """False when it was done already (the first one wins; a note may be added later)."""
    if occurrence.state == "done":
        if note:
            occurrence.note = note[:1000]
            occurrence.updated_at = now
        return False
    occurrence.state = "done"
    occurrence.done_at = now
    occurrence.done_by = officer.id
    occurrence.note = note[:1000] if note else None
    occurrence.snoozed_until = None
    occurrence.updated_at = now
    await repo.add_event(session, at=now, action="done", commune_id=occurrence.commune_id,
                         occurrence_id=occurrence.id, officer_id=officer.id)
    return True


async def snooze(
    session: AsyncSession, *, occurrence: Occurrence, officer: Officer, days: int, today: date,
    now: datetime,
) -> date:
    """No reminders before `today + days` (08:00 local); returns that day."""
    until = today + timedelta(days=days)
    occurrence.snoozed_until = max(until, occurrence.snoozed_until or until)
    occurrence.updated_at = now
    await repo.add_event(session, at=now, action="snoozed", commune_id=occurrence.commune_id,
                         occurrence_id=occurrence.id, officer_id=officer.id,
                         detail=f"until {occurrence.snoozed_until.isoformat()}")
    return occurrence.snoozed_until
