"""Report intake: a conversation whose state lives in the database.

what happened (text and/or category) -> in danger now? -> age -> commune ->
village -> when -> relation -> anonymous or phone -> summary and confirm.
"In danger now" (a button, an emergency in the text, or the "Báo tin khẩn" entry)
shows the emergency numbers at once and shrinks the rest to where + confirm.

Free text the reporter types (narrative, place, time, phone) is encrypted before
it is put into the conversation data; the summary that repeats it goes out as a
sensitive (encrypted) outbox message.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from handlers.context import HandlerContext
from handlers.core import main_menu_buttons
from handlers.hotline import cases as svc
from handlers.hotline.communes import find_commune
from handlers.hotline.notify import REPLY_PRIORITY, Mailer, label, notify_new_case
from handlers.hotline.texts import choices, t
from handlers.hotline.timelimits import HotlineConfig, deadline_for
from handlers.hotlines import commune_hotline_line
from handlers.messages import Button, Inbound, Reply
from handlers.router import Router
from storage.repositories import hotline as repo

__all__ = ["normalize_phone", "router", "start_report"]

router = Router("hotline-intake")

NORMAL_STEPS = ("danger", "age", "commune", "village", "when", "relation", "contact", "confirm")
URGENT_STEPS = ("commune", "village", "confirm")
TEXT_STEPS = ("describe", "details", "village", "when", "phone")
MAX_VILLAGE_BUTTONS = 10
MAX_COMMUNE_BUTTONS = 8

_MOBILE = re.compile(r"^0[35789]\d{8}$")
_LANDLINE = re.compile(r"^02\d{9}$")


def normalize_phone(text: str) -> str | None:
    """A Vietnamese phone number in national form (0xxxxxxxxx), or None."""
    raw = re.sub(r"[\s.\-()]", "", text or "")
    if raw.startswith("+84"):
        raw = "0" + raw[3:]
    elif raw.startswith("84") and len(raw) in (11, 12):
        raw = "0" + raw[2:]
    if _MOBILE.match(raw) or _LANDLINE.match(raw):
        return raw
    return None


def _config(ctx: HandlerContext) -> HotlineConfig:
    return ctx.services.extras.get("hotline_config") or HotlineConfig()


def _skip() -> Button:
    return Button(t("buttons.skip"), "report:skip")


def _cancel() -> Button:
    return Button(t("buttons.cancel"), "report:cancel")


def _enc(ctx: HandlerContext, text: str) -> str:
    return ctx.cipher.encrypt(text, context="intake")


def _dec(ctx: HandlerContext, value: str | None) -> str:
    return ctx.cipher.decrypt(value, context="intake") if value else ""


def _append(ctx: HandlerContext, draft: dict[str, Any], key: str, text: str) -> None:
    old = _dec(ctx, draft.get(key))
    draft[key] = _enc(ctx, f"{old}\n{text}" if old else text)


# -- prompts ------------------------------------------------------------------------------
async def _prompt(ctx: HandlerContext, step: str, draft: dict[str, Any]) -> list[Reply]:
    ctx.set_state(f"report:{step}", **draft)
    if step == "describe":
        buttons = tuple(Button(v, f"report:cat:{k}") for k, v in choices("categories").items())
        return [Reply(t("intake.describe"), (*buttons, _cancel()))]
    if step == "category":
        buttons = tuple(Button(v, f"report:cat:{k}") for k, v in choices("categories").items())
        return [Reply(t("intake.category"), (*buttons, _skip(), _cancel()))]
    if step == "details":
        return [Reply(t("intake.details"), (_skip(), _cancel()))]
    if step == "danger":
        return [Reply(t("intake.danger"), (
            Button(t("buttons.yes_danger"), "report:danger:yes"),
            Button(t("buttons.no_danger"), "report:danger:no"), _skip(), _cancel()))]
    if step == "age":
        buttons = tuple(Button(v, f"report:age:{k}") for k, v in choices("ages").items())
        return [Reply(t("intake.age"), (*buttons, _skip(), _cancel()))]
    if step == "commune":
        communes = [c for c in await repo.communes(ctx.session) if not c.is_default]
        buttons = tuple(Button(c.name, f"report:commune:{c.slug}")
                        for c in communes[:MAX_COMMUNE_BUTTONS])
        return [Reply(t("intake.commune"), (*buttons, _skip(), _cancel()))]
    if step == "village":
        commune = await repo.commune_by_slug(ctx.session, slug=draft.get("commune") or "")
        villages = list(commune.villages or [])[:MAX_VILLAGE_BUTTONS] if commune else []
        buttons = tuple(Button(v, f"report:village:{i}") for i, v in enumerate(villages))
        name = commune.name if commune else t("intake.your_area")
        return [Reply(t("intake.village", commune=name), (*buttons, _skip(), _cancel()))]
    if step == "when":
        buttons = tuple(Button(v, f"report:when:{k}") for k, v in choices("whens").items())
        return [Reply(t("intake.when"), (*buttons, _skip(), _cancel()))]
    if step == "relation":
        buttons = tuple(Button(v, f"report:rel:{k}") for k, v in choices("relations").items())
        return [Reply(t("intake.relation"), (*buttons, _skip(), _cancel()))]
    if step == "contact":
        return [Reply(t("intake.contact"), (
            Button(t("buttons.anonymous"), "report:contact:anon"),
            Button(t("buttons.leave_phone"), "report:contact:phone"), _skip(), _cancel()))]
    if step == "phone":
        return [Reply(t("intake.phone"), (_skip(), _cancel()))]
    if step == "confirm":
        await _send_summary(ctx, draft)
        return []
    raise ValueError(step)


async def _send_summary(ctx: HandlerContext, draft: dict[str, Any]) -> None:
    commune = await repo.commune_by_slug(ctx.session, slug=draft.get("commune") or "")
    place = commune.name if commune else t("intake.default_queue")
    if draft.get("village"):
        place = t("place_with_village", commune=place, village=draft["village"])
    where = _dec(ctx, draft.get("where"))
    if where:
        place = f"{place} — {where}"
    when = label("whens", draft.get("when")) if draft.get("when") else _dec(ctx, draft.get("when_text"))
    phone = _dec(ctx, draft.get("phone"))
    narrative = _dec(ctx, draft.get("narrative"))
    excerpt = narrative if len(narrative) <= 300 else narrative[:300].rstrip() + "…"
    text = t(
        "intake.summary",
        urgent=t("intake.summary_urgent") if draft.get("urgent") else t("intake.summary_normal"),
        category=label("categories", draft.get("category")),
        narrative=excerpt or t("unknown"),
        age=label("ages", draft.get("age")),
        place=place,
        when=when or t("unknown"),
        relation=label("relations", draft.get("relation")),
        contact=t("intake.summary_phone", phone=phone) if phone else t("intake.summary_anonymous"),
    )
    buttons = (Button(t("buttons.send"), f"report:confirm:{draft['token']}"), _cancel())
    # The summary repeats what the reporter typed: it is stored encrypted until sent.
    await Mailer.from_ctx(ctx).send(
        ctx.conv.channel, ctx.conv.chat_id, text, buttons, user_key=ctx.conv.user_key,
        priority=REPLY_PRIORITY, sensitive=True, kind="reply",
        dedupe_key=f"hl:draft:{draft['token']}:summary:{ctx.now.timestamp():.6f}",
    )


def _next(draft: dict[str, Any], current: str) -> str:
    order = URGENT_STEPS if draft.get("urgent") else NORMAL_STEPS
    if current in order:
        idx = order.index(current) + 1
    else:  # describe/category/details come before everything else
        idx = 0
        if draft.get("urgent"):
            return order[0]
    step = order[min(idx, len(order) - 1)]
    return step


async def _advance(ctx: HandlerContext, draft: dict[str, Any], current: str) -> list[Reply]:
    step = _next(draft, current)
    if step == "commune" and draft.get("commune"):
        step = _next(draft, "commune")  # known from the deep link or an earlier report
    return await _prompt(ctx, step, draft)


async def _urgent_numbers(ctx: HandlerContext) -> Reply:
    text = t("intake.urgent_numbers")
    line = await commune_hotline_line(ctx)
    return Reply(f"{text}\n{line}" if line else text)


async def _go_urgent(ctx: HandlerContext, draft: dict[str, Any], current: str) -> list[Reply]:
    draft["urgent"] = True
    replies = [await _urgent_numbers(ctx)]
    # Continue with where + confirm, skipping the steps already passed.
    if current in URGENT_STEPS:  # the text was the emergency, not the answer: ask again
        replies += await _prompt(ctx, current, draft)
    elif current in ("when", "relation", "contact", "phone"):
        replies += await _prompt(ctx, "confirm", draft)  # where was answered already
    else:
        replies += await _advance(ctx, draft, "describe")
    return replies


STORY_TTL = timedelta(minutes=30)


def _recent_story(ctx: HandlerContext) -> str | None:
    """The emergency or disclosure text the user sent just before (already
    encrypted for the intake), if it is recent."""
    data = ctx.data
    told, at = data.get("told"), data.get("told_at")
    if not told or not at:
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        return None
    return told if ctx.now - when <= STORY_TTL else None


# -- entry points -----------------------------------------------------------------------------
async def start_report(msg: Inbound, ctx: HandlerContext, *, urgent: bool = False) -> list[Reply]:
    if msg.is_group:
        return [Reply(t("intake.private_only"))]
    draft: dict[str, Any] = {"token": svc.new_draft_token(), "urgent": urgent}
    told = _recent_story(ctx)
    if told:
        draft["narrative"] = told  # what they wrote just before pressing "Báo tin"
    if ctx.user.commune_slug:
        draft["commune"] = ctx.user.commune_slug
    if urgent:
        return await _go_urgent(ctx, draft, "describe")
    return [Reply(t("intake.intro")), *await _prompt(ctx, "describe", draft)]


@router.command("baotin")
async def cmd_report(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    return await start_report(msg, ctx)


@router.intent("report")
async def intent_report(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    return await start_report(msg, ctx)


@router.button("report")
async def on_button(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    parts = (msg.button or "").split(":")
    action = parts[1] if len(parts) > 1 else ""
    arg = ":".join(parts[2:])
    if action == "start":
        return await start_report(msg, ctx)
    if action == "urgent":
        return await start_report(msg, ctx, urgent=True)
    if action == "cancel":
        if ctx.state and ctx.state.startswith("report:"):
            ctx.set_state(None)
            return [Reply(t("intake.cancelled"), main_menu_buttons(ctx))]
        return [Reply(t("intake.nothing_pending"), main_menu_buttons(ctx))]
    if action == "confirm":
        return await _confirm(msg, ctx, arg)
    state = ctx.state or ""
    if not state.startswith("report:"):
        return [Reply(t("intake.stale"), main_menu_buttons(ctx))]
    step = state.split(":", 1)[1]
    draft = ctx.data
    if action == "skip":
        return await _skip_step(ctx, draft, step)
    expected = {"cat": ("describe", "category"), "danger": ("danger",), "age": ("age",),
                "commune": ("commune",), "village": ("village",), "when": ("when",),
                "rel": ("relation",), "contact": ("contact",)}
    if step not in expected.get(action, ()):
        return [Reply(t("intake.stale_step")), *await _prompt(ctx, step, draft)]
    if action == "cat" and arg in choices("categories"):
        draft["category"] = arg
        if step == "describe":
            return await _prompt(ctx, "details", draft)
        return await _advance(ctx, draft, "describe")
    if action == "danger":
        if arg == "yes":
            return await _go_urgent(ctx, draft, "danger")
        return await _advance(ctx, draft, "danger")
    if action == "age" and arg in choices("ages"):
        draft["age"] = arg
        return await _advance(ctx, draft, "age")
    if action == "commune":
        commune = await repo.commune_by_slug(ctx.session, slug=arg)
        if commune is not None:
            draft["commune"] = commune.slug
            _remember_commune(ctx, commune.slug)
        return await _prompt(ctx, "village", draft)
    if action == "village":
        commune = await repo.commune_by_slug(ctx.session, slug=draft.get("commune") or "")
        villages = list(commune.villages or []) if commune else []
        if arg.isdigit() and int(arg) < len(villages):
            draft["village"] = villages[int(arg)]
        return await _advance(ctx, draft, "village")
    if action == "when" and arg in choices("whens"):
        draft["when"] = arg
        return await _advance(ctx, draft, "when")
    if action == "rel" and arg in choices("relations"):
        draft["relation"] = arg
        return await _advance(ctx, draft, "relation")
    if action == "contact":
        if arg == "phone":
            return await _prompt(ctx, "phone", draft)
        draft.pop("phone", None)
        return await _advance(ctx, draft, "contact")
    return [Reply(t("intake.stale_step")), *await _prompt(ctx, step, draft)]


def _remember_commune(ctx: HandlerContext, slug: str) -> None:
    if not ctx.user.commune_slug:
        ctx.user.commune_slug = slug


async def _skip_step(ctx: HandlerContext, draft: dict[str, Any], step: str) -> list[Reply]:
    if step == "describe":  # the first step cannot be skipped
        return await _prompt(ctx, "describe", draft)
    if step in ("category", "details"):
        return await _advance(ctx, draft, "describe")
    if step == "phone":
        draft.pop("phone", None)
        return await _advance(ctx, draft, "contact")
    if step == "confirm":
        return await _prompt(ctx, "confirm", draft)
    return await _advance(ctx, draft, step)


# -- free text in a step ----------------------------------------------------------------------
async def _on_text(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    step = (ctx.state or "report:describe").split(":", 1)[1]
    draft = ctx.data
    if msg.kind != "text":  # a sticker, photo, voice note... where text is expected
        return [Reply(t("intake.media")), *await _prompt(ctx, step, draft)]
    text = (msg.text or "").strip()
    replies: list[Reply] = []
    if len(text) > ctx.services.settings.max_text:
        replies.append(Reply(t("intake.long")))  # kept whole; the reporter is told
    emergency = ctx.understand(text[: ctx.services.settings.max_text]).intent == "emergency"
    if emergency and not draft.get("urgent"):
        _append(ctx, draft, "narrative", text)
        return replies + await _go_urgent(ctx, draft, step)
    if step in ("describe", "details"):
        _append(ctx, draft, "narrative", text)
        if draft.get("urgent"):
            return replies + await _advance(ctx, draft, "describe")
        if not draft.get("category"):
            return replies + await _prompt(ctx, "category", draft)
        return replies + await _advance(ctx, draft, "describe")
    if step == "category":
        _append(ctx, draft, "narrative", text)
        return replies + await _prompt(ctx, "category", draft)
    if step == "danger":
        folded = text.casefold()
        if folded.startswith(("có", "co", "yes", "đang", "dang")):
            return replies + await _go_urgent(ctx, draft, "danger")
        if folded.startswith(("không", "khong", "ko", "k ", "no")):
            return replies + await _advance(ctx, draft, "danger")
        return replies + await _prompt(ctx, "danger", draft)
    if step == "age":
        numbers = [int(n) for n in re.findall(r"\d{1,2}", text)]
        if numbers:
            draft["age"] = _age_range(numbers[0])
            return replies + await _advance(ctx, draft, "age")
        return replies + [Reply(t("intake.age_again")), *await _prompt(ctx, "age", draft)]
    if step == "commune":
        commune = await find_commune(ctx.session, text)
        if commune is None:
            return replies + [Reply(t("intake.commune_unknown")), *await _prompt(ctx, "commune", draft)]
        draft["commune"] = commune.slug
        _remember_commune(ctx, commune.slug)
        return replies + await _prompt(ctx, "village", draft)
    if step == "village":
        commune = await repo.commune_by_slug(ctx.session, slug=draft.get("commune") or "")
        match = _match_village(list(commune.villages or []) if commune else [], text)
        if match:
            draft["village"] = match
        else:
            _append(ctx, draft, "where", text)
        return replies + await _advance(ctx, draft, "village")
    if step == "when":
        _append(ctx, draft, "when_text", text)
        return replies + await _advance(ctx, draft, "when")
    if step == "relation":
        draft["relation"] = "other"
        return replies + await _advance(ctx, draft, "relation")
    if step in ("contact", "phone"):
        phone = normalize_phone(text)
        if phone is None:
            return replies + [Reply(t("intake.phone_invalid")), *await _prompt(ctx, "phone", draft)]
        draft["phone"] = _enc(ctx, phone)
        return replies + await _advance(ctx, draft, "contact")
    if step == "confirm":
        return replies + [Reply(t("intake.confirm_hint")), *await _prompt(ctx, "confirm", draft)]
    return replies + await _prompt(ctx, step, draft)


def _age_range(age: int) -> str:
    if age < 6:
        return "under6"
    if age <= 10:
        return "6-10"
    if age <= 15:
        return "11-15"
    if age <= 17:
        return "16-17"
    return "unknown"


def _match_village(villages: list[str], text: str) -> str | None:
    from handlers.hotline.communes import fold

    wanted = fold(text)
    for v in villages:
        if fold(v) == wanted:
            return v
    return None


for _step in ("describe", "category", "details", "danger", "age", "commune", "village", "when",
              "relation", "contact", "phone", "confirm"):
    router.state(f"report:{_step}", handles_emergency=True, handles_media=True)(_on_text)


# -- confirm --------------------------------------------------------------------------------------
async def _confirm(msg: Inbound, ctx: HandlerContext, token: str) -> list[Reply]:
    draft = ctx.data
    if ctx.state != "report:confirm" or not token or draft.get("token") != token:
        existing = await repo.case_by_draft(ctx.session, token=token) if token else None
        mine = existing is not None and existing.reporter_pseudonym == ctx.cipher.pseudonym(
            msg.channel, msg.user_id)
        if mine:
            return [Reply(t("intake.already_sent", code=existing.code),
                          (Button(t("buttons.track"), f"track:view:{existing.code}"),))]
        return [Reply(t("intake.nothing_pending"), main_menu_buttons(ctx))]
    config = _config(ctx)
    made = await svc.create_case(
        ctx.session, cipher=ctx.cipher, config=config, now=ctx.now, draft=draft,
        reporter=svc.Reporter(msg.channel, msg.chat_id, msg.user_id),
    )
    ctx.set_state(None)
    if made is None:
        return [Reply(t("intake.nothing_pending"), main_menu_buttons(ctx))]
    case, commune = made
    await notify_new_case(ctx.session, Mailer.from_ctx(ctx), case, commune, config,
                          deadline_for(case, "claim", config))
    key = "intake.done_urgent" if case.urgent else "intake.done"
    where = commune.name if commune else t("intake.default_queue")
    return [Reply(t(key, code=case.code, commune=where), (
        Button(t("buttons.track"), f"track:view:{case.code}"),
        Button(t("buttons.menu"), "menu:main"),
    ))]
