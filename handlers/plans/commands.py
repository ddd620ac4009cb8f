"""Officer commands: /viec (my tasks), /xong (done), /tiendo (progress, for
supervisors) and the reminder buttons Xong / Hoãn 3 ngày / Hoãn 7 ngày."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.context import HandlerContext
from handlers.messages import Button, Inbound, Reply
from handlers.plans import tasks as svc
from handlers.plans.reminders import local_date
from handlers.plans.texts import fmt_date, short, t
from handlers.plans.views import action_buttons, progress_text, status_text, unit_label
from handlers.router import Router
from storage.models.hotline import Officer
from storage.repositories import hotline as hl_repo
from storage.repositories import plans as repo

__all__ = ["NOTE_STATE", "VIEW_DAYS", "router"]

router = Router("plans")

VIEW_DAYS = 30
NOTE_STATE = "plan:note"
NOTE_MINUTES = 30  # a note must follow the "Xong" press within this time
SNOOZE_DAYS = (3, 7)
MAX_LISTED = 20


def _tz(ctx: HandlerContext) -> ZoneInfo:
    return ZoneInfo(ctx.services.settings.timezone)


async def _officer(msg: Inbound, ctx: HandlerContext) -> Officer | None:
    officer = await hl_repo.officer_by_identity(ctx.session, channel=msg.channel, user_key=msg.user_id)
    return officer if officer is not None and officer.active else None


def _id_arg(text: str) -> int | None:
    head = text.strip().split(" ", 1)[0].lstrip("#") if text.strip() else ""
    return int(head) if head.isdigit() else None


async def _load(ctx: HandlerContext, officer: Officer, occ_id: int):
    """(occurrence, task, refusal replies): refusal when missing or not allowed."""
    found = await repo.occurrence_with_task(ctx.session, occurrence_id=occ_id)
    if found is None or found[1].commune_id != officer.commune_id:
        return None, None, [Reply(t("viec.not_found", id=occ_id))]
    occ, task, _plan = found
    if not await svc.can_act(ctx.session, officer=officer, task=task):
        return None, None, [Reply(t("viec.not_allowed", id=occ_id))]
    return occ, task, []


async def _unit_name(ctx: HandlerContext, task) -> str:
    units = {u.id: u for u in await repo.units_of(ctx.session, commune_id=task.commune_id)}
    return unit_label(task, units)


# -- /viec -------------------------------------------------------------------------------
@router.command("viec")
async def cmd_tasks(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    if msg.is_group:
        return [Reply(t("viec.private_only"))]
    officer = await _officer(msg, ctx)
    if officer is None:
        return [Reply(t("viec.not_officer"))]
    today = local_date(ctx.now, _tz(ctx))
    rows = await repo.occurrences_for_commune(
        ctx.session, commune_id=officer.commune_id, until=today + timedelta(days=VIEW_DAYS)
    )
    rows = [(o, tk) for o, tk in rows if o.state == "open"]
    owners, _ = await svc.owners(ctx.session, list({tk.id: tk for _, tk in rows}.values()))
    mine = [(o, tk) for o, tk in rows
            if any(p.id == officer.id for p, _ in owners[tk.id].people)]
    if not mine:
        return [Reply(t("viec.empty", days=VIEW_DAYS))]
    lines = [t("viec.head", days=VIEW_DAYS)]
    for occ, task in mine[:MAX_LISTED]:
        lines.append(t("viec.line", id=occ.id, due=fmt_date(occ.due_date),
                       status=status_text(occ, today), task=short(task.text, 100)))
    if len(mine) > MAX_LISTED:
        lines.append(t("viec.more", n=len(mine) - MAX_LISTED))
    buttons = tuple(Button(t("buttons.open", id=o.id), f"plan:open:{o.id}") for o, _ in mine[:8])
    return [Reply("\n".join(lines), buttons)]


@router.button("plan:open")
async def btn_open(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    officer = await _officer(msg, ctx)
    if officer is None:
        return [Reply(t("viec.not_officer"))]
    occ_id = _id_arg((msg.button or "").rsplit(":", 1)[-1])
    if occ_id is None:
        return [Reply(t("done.usage"))]
    occ, task, refusal = await _load(ctx, officer, occ_id)
    if refusal:
        return refusal
    today = local_date(ctx.now, _tz(ctx))
    unit = await _unit_name(ctx, task)
    if occ.state == "done":
        done_day = local_date(occ.done_at, _tz(ctx)) if occ.done_at else today
        return [Reply(t("viec.card_done", id=occ.id, unit=unit, task=short(task.text, 600),
                        due=fmt_date(occ.due_date), done=fmt_date(done_day)))]
    return [Reply(t("viec.card", id=occ.id, unit=unit, task=short(task.text, 600),
                    due=fmt_date(occ.due_date), status=status_text(occ, today)),
                  action_buttons(occ.id))]


# -- done -----------------------------------------------------------------------------------
async def _done(msg: Inbound, ctx: HandlerContext, occ_id: int, note: str | None) -> list[Reply]:
    officer = await _officer(msg, ctx)
    if officer is None:
        return [Reply(t("viec.not_officer"))]
    occ, _task, refusal = await _load(ctx, officer, occ_id)
    if refusal:
        return refusal
    if not await svc.mark_done(ctx.session, occurrence=occ, officer=officer, note=note, now=ctx.now):
        if note:
            return [Reply(t("done.note_saved", id=occ_id))]
        return [Reply(t("done.already", id=occ_id))]
    if note:
        return [Reply(t("done.ok_with_note", id=occ_id))]
    if msg.is_group:
        return [Reply(t("done.ok", id=occ_id).split("\n", 1)[0])]
    ctx.set_state(NOTE_STATE, occ=occ_id, at=ctx.now.isoformat())
    return [Reply(t("done.ok", id=occ_id), (Button(t("buttons.no_note"), "plan:nonote"),))]


@router.button("plan:done")
async def btn_done(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    occ_id = _id_arg((msg.button or "").rsplit(":", 1)[-1])
    if occ_id is None:
        return [Reply(t("done.usage"))]
    return await _done(msg, ctx, occ_id, None)


@router.command("xong")
async def cmd_done(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    command = msg.command
    rest = command[1] if command else ""
    occ_id = _id_arg(rest)
    if occ_id is None:
        return [Reply(t("done.usage"))]
    note = rest.strip().split(" ", 1)[1].strip() if " " in rest.strip() else None
    return await _done(msg, ctx, occ_id, note or None)


@router.button("plan:nonote")
async def btn_no_note(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    if ctx.state == NOTE_STATE:
        ctx.set_state(None)
    return [Reply(t("done.no_note"))]


@router.state(NOTE_STATE)
async def state_note(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    data = ctx.data
    ctx.set_state(None)
    started = datetime.fromisoformat(data.get("at", "1970-01-01T00:00:00+00:00"))
    occ_id = data.get("occ")
    if not isinstance(occ_id, int) or ctx.now - started > timedelta(minutes=NOTE_MINUTES):
        # Too late to be a note: treat the text as an ordinary message.
        from handlers.core import dispatch

        return await dispatch(ctx.services.extras["router"], msg, ctx)
    officer = await _officer(msg, ctx)
    if officer is None:
        return [Reply(t("viec.not_officer"))]
    occ, _task, refusal = await _load(ctx, officer, occ_id)
    if refusal:
        return refusal
    await svc.mark_done(ctx.session, occurrence=occ, officer=officer,
                        note=(msg.text or "").strip(), now=ctx.now)
    return [Reply(t("done.note_saved", id=occ_id))]


# -- snooze -----------------------------------------------------------------------------------
@router.button("plan:snooze")
async def btn_snooze(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    parts = (msg.button or "").split(":")
    occ_id = _id_arg(parts[2]) if len(parts) == 4 else None
    days = int(parts[3]) if len(parts) == 4 and parts[3].isdigit() else 0
    if occ_id is None or days not in SNOOZE_DAYS:
        return [Reply(t("done.usage"))]
    officer = await _officer(msg, ctx)
    if officer is None:
        return [Reply(t("viec.not_officer"))]
    occ, _task, refusal = await _load(ctx, officer, occ_id)
    if refusal:
        return refusal
    if occ.state == "done":
        return [Reply(t("snooze.done_already", id=occ_id))]
    until = await svc.snooze(ctx.session, occurrence=occ, officer=officer, days=days,
                             today=local_date(ctx.now, _tz(ctx)), now=ctx.now)
    return [Reply(t("snooze.ok", id=occ_id, date=fmt_date(until)))]


# -- /tiendo -------------------------------------------------------------------------------------
@router.command("tiendo")
async def cmd_progress(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    officer = await _officer(msg, ctx)
    if officer is None or officer.role not in (*svc.SUPERVISOR_ROLES, "province"):
        return [Reply(t("tiendo.not_supervisor"))]
    text = await progress_text(ctx.session, commune_id=officer.commune_id,
                               today=local_date(ctx.now, _tz(ctx)))
    return [Reply(text or t("tiendo.none"))]
