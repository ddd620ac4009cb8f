"""The reporter's follow-up: `/theodoi BV-XXXXXX` shows the status in plain words
(never the officers' notes), the reporter can add information, and answers to an
officer's message are attached to the case. A case is shown only to the person
who reported it (matched by their keyed pseudonym); to anyone else it does not
exist."""

from __future__ import annotations

from handlers.context import HandlerContext
from handlers.core import main_menu_buttons
from handlers.hotline import cases as svc
from handlers.hotline.codes import parse_case_code
from handlers.hotline.notify import Mailer, case_buttons, unique_key
from handlers.hotline.texts import t
from handlers.messages import Button, Inbound, Reply
from handlers.router import Router
from storage.models.hotline import Case
from storage.repositories import hotline as repo

__all__ = ["plain_status", "router"]

router = Router("hotline-followup")

_STATUS = {
    "received": "received",
    "claimed": "verifying",
    "verification": "verifying",
    "emergency": "handling",
    "assessment": "handling",
    "plan": "handling",
    "implementation": "handling",
    "review": "handling",
    "closed": "closed",
}


def plain_status(case: Case) -> str:
    """received | verifying | handling | closed."""
    return "closed" if case.closed_at is not None else _STATUS.get(case.step, "handling")


async def _own_case(ctx: HandlerContext, msg: Inbound, text: str) -> Case | None:
    code = parse_case_code(text)
    case = await repo.case_by_code(ctx.session, code=code) if code else None
    if case is None or case.purged_at is not None:
        return None
    if case.reporter_pseudonym != ctx.cipher.pseudonym(msg.channel, msg.user_id):
        return None
    return case


def _status_reply(case: Case) -> Reply:
    text = t("followup.status", code=case.code, status=t(f"status.{plain_status(case)}"))
    buttons: tuple[Button, ...] = ()
    if case.closed_at is None:
        buttons = (Button(t("buttons.add_info"), f"track:add:{case.code}"),)
    return Reply(text, (*buttons, Button(t("buttons.menu"), "menu:main")))


@router.command("theodoi")
async def cmd_track(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    if msg.is_group:
        return [Reply(t("followup.private_only"))]
    command = msg.command
    arg = command[1] if command else ""
    if not arg:
        mine = await repo.cases_by_pseudonym(
            ctx.session, pseudonym=ctx.cipher.pseudonym(msg.channel, msg.user_id))
        mine = [c for c in mine if c.purged_at is None]
        if not mine:
            return [Reply(t("followup.usage"))]
        return [Reply(t("followup.choose"),
                      tuple(Button(c.code, f"track:view:{c.code}") for c in mine[:8]))]
    case = await _own_case(ctx, msg, arg)
    if case is None:
        return [Reply(t("followup.not_found"), main_menu_buttons(ctx))]
    return [_status_reply(case)]


@router.button("track")
async def on_track_button(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    parts = (msg.button or "").split(":")
    if len(parts) != 3:
        return [Reply(t("followup.not_found"))]
    action, code = parts[1], parts[2]
    case = await _own_case(ctx, msg, code)
    if case is None:
        return [Reply(t("followup.not_found"), main_menu_buttons(ctx))]
    if action == "view":
        return [_status_reply(case)]
    if action in ("add", "reply"):
        if case.closed_at is not None:
            return [_status_reply(case)]
        ctx.set_state(f"track:{action}", code=case.code)
        return [Reply(t(f"followup.{action}_prompt", code=case.code),
                      (Button(t("buttons.cancel"), "track:cancel:" + case.code),))]
    if action == "cancel":
        ctx.set_state(None)
        return [Reply(t("followup.cancelled"), main_menu_buttons(ctx))]
    return [Reply(t("followup.not_found"))]


async def _on_text(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    action = (ctx.state or "track:add").split(":", 1)[1]
    code = str(ctx.data.get("code") or "")
    if msg.kind != "text":
        return [Reply(t("followup.text_only"))]
    text = (msg.text or "").strip()
    case = await _own_case(ctx, msg, code)
    ctx.set_state(None)
    if case is None or case.closed_at is not None:
        return [Reply(t("followup.not_found"), main_menu_buttons(ctx))]
    event = "reporter_info" if action == "add" else "reporter_reply"
    await svc.add_reporter_text(ctx.session, case, text, event, cipher=ctx.cipher, now=ctx.now)
    await _tell_officers(ctx, case, event)
    replies = []
    if len(text) > ctx.services.settings.max_text:
        replies.append(Reply(t("intake.long")))
    replies.append(Reply(t("followup.attached", code=case.code),
                         (Button(t("buttons.track"), f"track:view:{case.code}"),)))
    return replies


router.state("track:add", handles_media=True)(_on_text)
router.state("track:reply", handles_media=True)(_on_text)


async def _tell_officers(ctx: HandlerContext, case: Case, event: str) -> None:
    """The claimer (else the group, else the commune's officers) learns that there is
    something new; the content itself is read through 'Xem chi tiết'."""
    mailer = Mailer.from_ctx(ctx)
    text = t(f"notify.{event}", code=case.code)
    buttons = (Button(t("buttons.view"), f"case:view:{case.code}"),)
    key = unique_key(case.code, event)
    claimer = await repo.officer_by_id(ctx.session, officer_id=case.claimed_by)
    if claimer is not None and claimer.active:
        await mailer.to_officer(claimer, text, buttons, key=key)
        return
    commune = await repo.commune_by_id(ctx.session, commune_id=case.commune_id)
    if await mailer.to_group(commune, text, case_buttons(case.code), key=key):
        return
    if commune is not None:
        for officer in await repo.officers_of(ctx.session, commune_id=commune.id):
            await mailer.to_officer(officer, text, buttons, key=key)
