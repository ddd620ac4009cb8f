"""Officers: registration by invite code, the officers' group, the case queue and
its buttons, notes, messages to the reporter and the month's figures.

Case details are only ever sent privately to the officer, as sensitive
(encrypted) outbox messages; group chats see the case code, category, place and
who handles it, never the narrative or the reporter's contact."""

from __future__ import annotations

from datetime import UTC, timedelta

from handlers.context import HandlerContext
from handlers.hotline import cases as svc
from handlers.hotline.codes import parse_invite_code
from handlers.hotline.notify import (
    REPLY_PRIORITY,
    Mailer,
    fmt_local,
    label,
    officer_label,
    place_text,
    reporter_address,
    unique_key,
)
from handlers.hotline.texts import choices, t
from handlers.hotline.timelimits import HotlineConfig
from handlers.messages import Button, Inbound, Reply
from handlers.router import Router
from storage.models.hotline import Case, InviteCode
from storage.repositories import hotline as repo

__all__ = ["router", "case_card"]

router = Router("hotline-officers")

STAT_CHOICES = {"age": "ages", "sex": "sexes", "place": "places", "harmer": "harmers"}


def _config(ctx: HandlerContext) -> HotlineConfig:
    return ctx.services.extras.get("hotline_config") or HotlineConfig()


async def _actor(msg: Inbound, ctx: HandlerContext) -> svc.Actor | None:
    return await svc.actor_for(ctx.session, channel=msg.channel, user_key=msg.user_id)


def _refused(err: svc.CaseError) -> list[Reply]:
    return [Reply(t(err.key, **err.params))]


# -- registration ----------------------------------------------------------------------------
async def _usable_invite(msg: Inbound, ctx: HandlerContext) -> InviteCode | None:
    """The invite named by the command's argument, if it exists, is unused and not expired."""
    command = msg.command
    code = parse_invite_code(command[1] if command else "")
    invite = await repo.invite_by_code(ctx.session, code=code) if code else None
    if invite is None or invite.used_at is not None or invite.expires_at <= ctx.now:
        return None
    return invite


@router.command("dangky")
async def cmd_register(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    if msg.is_group:
        return [Reply(t("officer.register_private"))]
    invite = await _usable_invite(msg, ctx)
    if invite is None:
        return [Reply(t("officer.bad_code"))]
    commune = await repo.commune_by_id(ctx.session, commune_id=invite.commune_id)
    officer = await repo.officer_by_identity(ctx.session, channel=msg.channel, user_key=msg.user_id)
    if officer is None:
        from storage.models.hotline import Officer

        officer = Officer(channel=msg.channel, user_key=msg.user_id, created_at=ctx.now)
        ctx.session.add(officer)
    officer.chat_id = msg.chat_id
    officer.display_name = (msg.display_name or "")[:80] or None
    officer.commune_id = invite.commune_id
    officer.role = invite.role
    officer.active = True
    invite.used_at = ctx.now
    invite.used_for = "officer"
    await ctx.session.flush()
    return [Reply(t("officer.registered", role=t(f"roles.{invite.role}"),
                    commune=commune.name if commune else "?"))]


@router.command("nhom")
async def cmd_group(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    """`/nhom CODE` in a group, from a registered supervisor: the group becomes the
    officers' group of the code's commune. CODE is any valid, unused invite code of
    that commune (`bvte officer invite --commune SLUG`); it is used up."""
    if not msg.is_group:
        return [Reply(t("officer.group_only"))]
    actor = await _actor(msg, ctx)
    if actor is None or not actor.is_supervisor:
        return [Reply(t("officer.group_needs_supervisor"))]
    invite = await _usable_invite(msg, ctx)
    if invite is None:
        return [Reply(t("officer.bad_code"))]
    commune = await repo.commune_by_id(ctx.session, commune_id=invite.commune_id)
    allowed = commune is not None and (
        commune.id == actor.commune.id
        or (actor.role == "province" and commune.province == actor.commune.province))
    if not allowed:
        return [Reply(t("officer.bad_code"))]
    commune.group_channel = msg.channel
    commune.group_chat_id = msg.chat_id
    invite.used_at = ctx.now
    invite.used_for = "group"
    return [Reply(t("officer.group_set", commune=commune.name))]


# -- the queue ------------------------------------------------------------------------------------
async def _limit_state(ctx: HandlerContext, case: Case, fired: set[str]) -> str:
    config = _config(ctx)
    if fired:
        names = ", ".join(t(f"limits.{n}") for n in sorted(fired))
        return t("queue.overdue", limits=names)
    pending = [p for p in await repo.pending_timers(ctx.session, case_id=case.id) if p.level == 0]
    if not pending:
        return t("queue.no_limit")
    nxt = min(pending, key=lambda p: p.deadline)
    return t("queue.due", limit=t(f"limits.{nxt.limit_name}"), deadline=fmt_local(nxt.deadline, config))


@router.command("ca")
async def cmd_cases(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    actor = await _actor(msg, ctx)
    if actor is None:
        return [] if msg.is_group else [Reply(t("officer.not_registered"))]
    command = msg.command
    arg = command[1] if command else ""
    if arg:
        return await _view(msg, ctx, actor, arg.split()[0])
    if msg.is_group:
        return [Reply(t("officer.list_private"))]
    cases = await svc.list_open(ctx.session, actor)
    if not cases:
        return [Reply(t("queue.empty"))]
    fired = await repo.fired_limits(ctx.session, case_ids=[c.id for c in cases])
    lines = []
    for case in cases[:30]:
        claimer = await repo.officer_by_id(ctx.session, officer_id=case.claimed_by)
        lines.append(t(
            "queue.line", code=case.code, urgent=t("queue.urgent_mark") if case.urgent else "",
            category=label("categories", case.category), step=t(f"steps.{case.step}"),
            claimer=t("queue.me") if case.claimed_by == actor.officer.id else officer_label(claimer),
            limit=await _limit_state(ctx, case, fired.get(case.id, set())),
        ))
    text = t("queue.head", n=len(cases)) + "\n" + "\n".join(lines)
    buttons = tuple(Button(c.code, f"case:view:{c.code}") for c in cases[:8])
    # Case codes and steps only, but still: this list stays encrypted at rest.
    await Mailer.from_ctx(ctx).to_officer(actor.officer, text, buttons,
                                          key=unique_key("list", "ca"), priority=REPLY_PRIORITY)
    return []


def action_buttons(case: Case, actor: svc.Actor) -> tuple[Button, ...]:
    code = case.code
    if case.closed_at is not None:
        return ()
    if case.claimed_by is None:
        return (Button(t("buttons.claim"), f"case:claim:{code}"),)
    buttons = [Button(t(f"next.{target}"), f"case:step:{code}:{target}")
               for target in svc.NEXT_STEPS.get(case.step, ())]
    if case.step in ("emergency", "assessment", "plan", "implementation", "review"):
        if case.separation_started_at is None:
            buttons.append(Button(t("buttons.separation_start"), f"case:sep:{code}:start"))
        elif case.separation_ended_at is None:
            buttons.append(Button(t("buttons.separation_end"), f"case:sep:{code}:end"))
    buttons += [
        Button(t("buttons.refer"), f"case:ref:{code}"),
        Button(t("buttons.stats"), f"case:stat:{code}"),
        Button(t("buttons.pass"), f"case:pass:{code}"),
        Button(t("buttons.close"), f"case:close:{code}"),
    ]
    return tuple(buttons)


def case_card(case: Case, commune, details: dict[str, str], history, config: HotlineConfig,
              claimer_name: str) -> str:
    """The full case as an authorised officer sees it (sent privately, encrypted)."""
    contact = t("card.phone", phone=details["phone"]) if details.get("phone") else t("card.anonymous")
    lines = [t(
        "card.head", code=case.code, urgent=t("queue.urgent_mark") if case.urgent else "",
        category=label("categories", case.category), step=t(f"steps.{case.step}"),
        place=place_text(case, commune), where=details.get("where") or "—",
        when=label("whens", case.when_code) if case.when_code else (details.get("when_text") or "—"),
        age=label("ages", case.age_range), relation=label("relations", case.relation),
        received=fmt_local(case.created_at, config), claimer=claimer_name, contact=contact,
        narrative=details.get("narrative") or "—",
    )]
    stats = [f"{t(f'stat_fields.{k}')}: {label(g, getattr(case, svc.STAT_FIELDS[k]))}"
             for k, g in STAT_CHOICES.items()]
    lines.append(t("card.stats", stats="; ".join(stats)))
    shown = [h for h in history if h[1] in ("note", "reporter_info", "reporter_reply", "to_reporter",
                                            "referral", "step", "claimed", "closed", "escalated")]
    if shown:
        lines.append(t("card.history"))
        for at, action, detail, text in shown[-15:]:
            what = t(f"events.{action}", detail=_event_detail(action, detail))
            lines.append(f"- {fmt_local(at, config)}: {what}" + (f" — {text}" if text else ""))
    return "\n".join(lines)


def _event_detail(action: str, detail: str) -> str:
    if action == "step" and ">" in detail:
        return t(f"steps.{detail.split('>', 1)[1]}")
    if action == "referral":
        return t(f"referrals.{detail}")
    if action == "escalated":
        parts = detail.split(":")
        return t(f"limits.{parts[0]}") if parts else detail
    return detail


async def _send_card(ctx: HandlerContext, actor: svc.Actor, code: str) -> None:
    config = _config(ctx)
    case, details, history = await svc.view(ctx.session, actor, code, cipher=ctx.cipher,
                                            now=ctx.now)
    commune = await repo.commune_by_id(ctx.session, commune_id=case.commune_id)
    claimer = await repo.officer_by_id(ctx.session, officer_id=case.claimed_by)
    text = case_card(case, commune, details, history, config, officer_label(claimer))
    await Mailer.from_ctx(ctx).to_officer(actor.officer, text, action_buttons(case, actor),
                                          key=unique_key(case.code, "card"),
                                          priority=REPLY_PRIORITY)


async def _view(msg: Inbound, ctx: HandlerContext, actor: svc.Actor, code: str) -> list[Reply]:
    try:
        await _send_card(ctx, actor, code)
    except svc.CaseError as err:
        return _refused(err)
    return [Reply(t("officer.sent_privately"))] if msg.is_group else []


async def _code_and_text(
    msg: Inbound, ctx: HandlerContext, usage: str
) -> tuple[svc.Actor, str, str] | list[Reply]:
    """The officer, case code and text of `/command CODE text`, or the reply refusing it."""
    actor = await _actor(msg, ctx)
    if actor is None:
        return [] if msg.is_group else [Reply(t("officer.not_registered"))]
    code, _, text = (msg.command[1] if msg.command else "").partition(" ")
    if not code or not text.strip():
        return [Reply(t(usage))]
    return actor, code, text.strip()


@router.command("ghichu")
async def cmd_note(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    parsed = await _code_and_text(msg, ctx, "officer.note_usage")
    if isinstance(parsed, list):
        return parsed
    actor, code, text = parsed
    try:
        case = await svc.add_note(ctx.session, actor, code, text, cipher=ctx.cipher, now=ctx.now)
    except svc.CaseError as err:
        return _refused(err)
    return [Reply(t("officer.note_saved", code=case.code))]


@router.command("nhan")
async def cmd_message(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    parsed = await _code_and_text(msg, ctx, "officer.message_usage")
    if isinstance(parsed, list):
        return parsed
    actor, code, text = parsed
    try:
        case = await svc.record_message_to_reporter(ctx.session, actor, code, text,
                                                    cipher=ctx.cipher, now=ctx.now)
    except svc.CaseError as err:
        return _refused(err)
    address = reporter_address(ctx.cipher, case)
    if address is None:
        return [Reply(t("case.no_reporter", code=case.code))]
    await Mailer.from_ctx(ctx).send(
        address["channel"], address["chat_id"], t("followup.from_officer", code=case.code,
                                                  text=text.strip()),
        (Button(t("buttons.reply"), f"track:reply:{case.code}"),),
        user_key=address.get("user_key"), priority=REPLY_PRIORITY,
        dedupe_key=unique_key(case.code, "msg"),
    )
    return [Reply(t("officer.message_sent", code=case.code))]


@router.command("thongke")
async def cmd_stats(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    actor = await _actor(msg, ctx)
    if actor is None:
        return [] if msg.is_group else [Reply(t("officer.not_registered"))]
    if not actor.is_supervisor:
        return [Reply(t("officer.stats_supervisors"))]
    from handlers.hotline.stats import compute_stats, summary_text

    config = _config(ctx)
    local = ctx.now.astimezone(config.tz)
    start_local = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end_local = (start_local + timedelta(days=32)).replace(day=1)
    stats = await compute_stats(
        ctx.session, start=start_local.astimezone(UTC), end=end_local.astimezone(UTC),
        commune_ids=await svc.scope_commune_ids(ctx.session, actor), config=config, now=ctx.now,
    )
    title = t("stats.month_title", month=start_local.strftime("%m/%Y"))
    return [Reply(title + "\n" + summary_text(stats))]


# -- case buttons -------------------------------------------------------------------------------------
@router.button("case")
async def on_case_button(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    parts = (msg.button or "").split(":")
    if len(parts) < 3:
        return [Reply(t("case.not_found"))]
    action, code, rest = parts[1], parts[2], parts[3:]
    actor = await _actor(msg, ctx)
    if actor is None:
        return [Reply(t("officer.not_registered"))]
    config = _config(ctx)
    try:
        if action == "view":
            return await _view(msg, ctx, actor, code)
        if action == "claim":
            case = await svc.claim(ctx.session, actor, code, now=ctx.now)
            await _send_card(ctx, actor, case.code)
            text = t("officer.claimed", code=case.code, name=officer_label(actor.officer))
            await _tell_group(ctx, case, text, exclude_chat=msg.chat_id)
            return [Reply(text)]
        if action == "pass":
            case = await svc.release(ctx.session, actor, code, now=ctx.now)
            await _tell_group(ctx, case, t("officer.released_group", code=case.code),
                              buttons=_queue_buttons(case.code), exclude_chat=None)
            return [Reply(t("officer.released", code=case.code))]
        if action == "step" and rest:
            case = await svc.advance(ctx.session, actor, code, rest[0], now=ctx.now, config=config)
            await _send_card(ctx, actor, case.code)
            return [Reply(t("officer.step_done", code=case.code, step=t(f"steps.{case.step}")))]
        if action == "close":
            case = await svc.authorised_case(ctx.session, actor, code)
            return [Reply(t("officer.close_confirm", code=case.code), (
                Button(t("buttons.close_yes"), f"case:closeok:{case.code}"),
                Button(t("buttons.view"), f"case:view:{case.code}"),
            ))]
        if action == "closeok":
            case = await svc.close(ctx.session, actor, code, now=ctx.now)
            text = t("officer.closed", code=case.code)
            await _tell_group(ctx, case, text, exclude_chat=msg.chat_id)
            return [Reply(text)]
        if action == "sep" and rest:
            case = await svc.set_separation(ctx.session, actor, code, rest[0] == "start",
                                            now=ctx.now, config=config)
            key = "officer.separation_started" if rest[0] == "start" else "officer.separation_ended"
            return [Reply(t(key, code=case.code, days=config.separation.days))]
        if action == "ref":
            if not rest:
                case = await svc.authorised_case(ctx.session, actor, code)
                return [Reply(t("officer.refer_choose", code=case.code), tuple(
                    Button(t(f"referrals.{r}"), f"case:ref:{case.code}:{r}") for r in svc.REFERRALS))]
            case = await svc.refer(ctx.session, actor, code, rest[0], now=ctx.now)
            return [Reply(t("officer.referred", code=case.code, to=t(f"referrals.{rest[0]}")))]
        if action == "stat":
            case = await svc.authorised_case(ctx.session, actor, code)
            if not rest:
                return [Reply(t("officer.stat_choose", code=case.code), tuple(
                    Button(t(f"stat_fields.{f}"), f"case:stat:{case.code}:{f}") for f in STAT_CHOICES))]
            field = rest[0]
            if field not in STAT_CHOICES:
                raise svc.CaseError("case.bad_step", code=case.code)
            return [Reply(t("officer.stat_value", field=t(f"stat_fields.{field}")), tuple(
                Button(lbl, f"case:set:{case.code}:{field}:{value}")
                for value, lbl in choices(STAT_CHOICES[field]).items()))]
        if action == "set" and len(rest) == 2:
            allowed = {f: list(choices(g)) for f, g in STAT_CHOICES.items()}
            case = await svc.set_stat(ctx.session, actor, code, rest[0], rest[1], allowed=allowed,
                                      now=ctx.now)
            return [Reply(t("officer.stat_saved", code=case.code,
                            field=t(f"stat_fields.{rest[0]}"),
                            value=label(STAT_CHOICES[rest[0]], rest[1])))]
    except svc.CaseError as err:
        return _refused(err)
    return [Reply(t("case.not_found"))]


def _queue_buttons(code: str) -> tuple[Button, ...]:
    return (Button(t("buttons.claim"), f"case:claim:{code}"),
            Button(t("buttons.view"), f"case:view:{code}"))


async def _tell_group(ctx: HandlerContext, case: Case, text: str, *,
                      buttons: tuple[Button, ...] = (), exclude_chat: str | None) -> None:
    commune = await repo.commune_by_id(ctx.session, commune_id=case.commune_id)
    if commune is None or not commune.group_chat_id or commune.group_chat_id == exclude_chat:
        return
    await Mailer.from_ctx(ctx).to_group(commune, text, buttons,
                                        key=unique_key(case.code, "group"))

