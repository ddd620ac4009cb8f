"""Texts built from the data: statuses, the progress table (/tiendo and the weekly
digest), reminder texts and their buttons."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.messages import Button
from handlers.plans.texts import fmt_date, short, t
from storage.models.plans import Occurrence, Task, Unit
from storage.repositories import hotline as hl_repo
from storage.repositories import plans as repo

__all__ = [
    "action_buttons",
    "digest_text",
    "progress_text",
    "reminder_text",
    "status_text",
    "unit_label",
]


def action_buttons(occurrence_id: int) -> tuple[Button, ...]:
    return (
        Button(t("buttons.done"), f"plan:done:{occurrence_id}"),
        Button(t("buttons.snooze3"), f"plan:snooze:{occurrence_id}:3"),
        Button(t("buttons.snooze7"), f"plan:snooze:{occurrence_id}:7"),
    )


def status_text(occ: Occurrence, today: date) -> str:
    if occ.state == "done":
        return t("status.done")
    days = (occ.due_date - today).days
    if days > 0:
        text = t("status.left", days=days)
    elif days == 0:
        text = t("status.today")
    else:
        text = t("status.overdue", days=-days)
    if occ.snoozed_until and occ.snoozed_until > today:
        text += t("status.snoozed", date=fmt_date(occ.snoozed_until))
    return text


def unit_label(task: Task, units: dict[int, Unit]) -> str:
    unit = units.get(task.unit_id) if task.unit_id is not None else None
    return unit.name if unit else t("owner_supervisors")


def reminder_text(step: str, occ: Occurrence, task: Task, unit: str, today: date) -> str:
    """The reminder for `step`, worded from the real number of days left today (a
    late reminder never claims more time than there is)."""
    days = (occ.due_date - today).days
    params = dict(unit=unit, task=short(task.text), due=fmt_date(occ.due_date), id=occ.id)
    if step == "esc":
        body = t("reminder.escalation", days=max(1, -days), **params)
        return body + "\n" + t("reminder.footer_escalation", id=occ.id)
    if days > 0:
        body = t("reminder.before", days=days, **params)
    elif days == 0:
        body = t("reminder.today", **params)
    else:
        body = t("reminder.overdue", days=-days, **params)
    return body + "\n" + t("reminder.footer", id=occ.id)


async def progress_text(session: AsyncSession, *, commune_id: int, today: date) -> str | None:
    """Per unit: done / open / overdue occurrences of the commune's active plans
    (None when the commune has no plan)."""
    tasks = await repo.tasks_of_commune(session, commune_id=commune_id)
    if not tasks:
        return None
    commune = await hl_repo.commune_by_id(session, commune_id=commune_id)
    units = {u.id: u for u in await repo.units_of(session, commune_id=commune_id)}
    members = {u for u, _, _ in await repo.members_of_units(session, unit_ids=list(units))}
    counts: dict[int | None, dict[str, int]] = defaultdict(
        lambda: {"done": 0, "open": 0, "overdue": 0, "ongoing": 0}
    )
    dated: set[int] = set()
    for occ, task in await repo.occurrences_for_commune(session, commune_id=commune_id):
        dated.add(task.id)
        bucket = counts[task.unit_id]
        if occ.state == "done":
            bucket["done"] += 1
        elif occ.due_date < today:
            bucket["overdue"] += 1
        else:
            bucket["open"] += 1
    for task in tasks:
        if task.id not in dated:
            counts[task.unit_id]["ongoing"] += 1
    lines = [t("tiendo.head", commune=commune.name if commune else "?", today=fmt_date(today))]
    order = [uid for uid in units if uid in counts] + ([None] if None in counts else [])
    total = {"done": 0, "open": 0, "overdue": 0}
    for uid in order:
        c = counts[uid]
        name = units[uid].name if uid is not None else t("owner_supervisors")
        line = t("tiendo.unit", unit=name, done=c["done"], open=c["open"], overdue=c["overdue"])
        if c["ongoing"]:
            line += t("tiendo.ongoing", n=c["ongoing"])
        if uid is not None and uid not in members:
            line += t("tiendo.unassigned")
        lines.append(line)
        for key in total:
            total[key] += c[key]
    lines.append(t("tiendo.total", **total))
    return "\n".join(lines)


async def digest_text(session: AsyncSession, *, commune_id: int, today: date) -> str | None:
    progress = await progress_text(session, commune_id=commune_id, today=today)
    if progress is None:
        return None
    commune = await hl_repo.commune_by_id(session, commune_id=commune_id)
    units = {u.id: u for u in await repo.units_of(session, commune_id=commune_id)}
    rows = await repo.occurrences_for_commune(
        session, commune_id=commune_id, until=today + timedelta(days=7)
    )
    overdue = [(o, tk) for o, tk in rows if o.state == "open" and o.due_date < today]
    soon = [(o, tk) for o, tk in rows if o.state == "open" and o.due_date >= today]

    def item(o: Occurrence, tk: Task) -> str:
        return t("digest.item", id=o.id, due=fmt_date(o.due_date), unit=unit_label(tk, units),
                 task=short(tk.text, 120))

    lines = [t("digest.head", date=fmt_date(today), commune=commune.name if commune else "?"),
             progress.split("\n", 1)[1]]
    if overdue:
        lines += ["", t("digest.overdue_head"), *[item(o, tk) for o, tk in overdue[:15]]]
    lines.append("")
    if soon:
        lines += [t("digest.soon_head"), *[item(o, tk) for o, tk in soon[:15]]]
    else:
        lines.append(t("digest.none_soon"))
    return "\n".join(lines)
