"""Guidance: answer from the curated knowledge base, or offer the closest topics."""

from __future__ import annotations

from typing import Any

from handlers.context import HandlerContext
from handlers.core import main_menu_buttons
from handlers.messages import Button, Inbound, Reply
from handlers.router import Router
from storage.repositories import feedback as feedback_repo

__all__ = ["router", "guidance_reply"]

router = Router("guidance")

MAX_LABEL = 60


def _label(title: str) -> str:
    return title if len(title) <= MAX_LABEL else title[: MAX_LABEL - 1].rstrip() + "…"


def _kb(ctx: HandlerContext) -> Any:
    return ctx.services.extras.get("kb")


def answer_entry(ctx: HandlerContext, entry: Any) -> Reply:
    kb = _kb(ctx)
    buttons: list[Button] = []
    for rid in list(getattr(entry, "related", []) or [])[:2]:
        rel = kb.by_id.get(rid) if kb is not None else None
        if rel is not None:
            buttons.append(Button(_label(rel.title), f"kb:{rel.id}"))
    buttons.append(Button(ctx.t("buttons.ask_other"), "menu:ask"))
    buttons.append(Button(ctx.t("buttons.helpful_yes"), f"fb:up:{entry.id}"))
    buttons.append(Button(ctx.t("buttons.helpful_no"), f"fb:down:{entry.id}"))
    text = f"{entry.title}\n\n{entry.answer.strip()}\n\n{ctx.t('guidance.helpful')}"
    return Reply(text, tuple(buttons))


async def guidance_reply(ctx: HandlerContext, text: str, *, force: bool = False) -> list[Reply]:
    """The reply to a guidance question: the best entry when confident, else the
    2-3 closest entries as choices (and the question is kept as a gap)."""
    u = ctx.understand(text[: ctx.services.settings.max_text])
    kb = _kb(ctx)
    hits = list(getattr(u, "hits", []) or [])
    if kb is None or not hits:
        if force or u.intent == "guidance":
            await feedback_repo.add_gap(ctx.session, text=text, best_topic=u.topic, score=u.score, now=ctx.now)
        return [Reply(ctx.t("guidance.not_found"), main_menu_buttons(ctx))]
    if u.confident and u.entry_id and u.entry_id in kb.by_id:
        return [answer_entry(ctx, kb.by_id[u.entry_id])]
    await feedback_repo.add_gap(ctx.session, text=text, best_topic=u.topic, score=u.score, now=ctx.now)
    choices: list[Button] = []
    seen_topics: set[str] = set()
    for hit in hits:
        entry = kb.by_id.get(hit.entry_id)
        if entry is None or entry.topic in seen_topics:
            continue
        seen_topics.add(entry.topic)
        choices.append(Button(_label(entry.title), f"kb:{entry.id}"))
        if len(choices) == 3:
            break
    choices.append(Button(ctx.t("buttons.ask_other"), "menu:ask"))
    return [Reply(ctx.t("guidance.choose"), tuple(choices))]


@router.intent("guidance")
async def handle_guidance(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    return await guidance_reply(ctx, (msg.text or "").strip())


@router.state("ask")
async def handle_ask_state(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    text = (msg.text or "").strip()
    u = ctx.understand(text[: ctx.services.settings.max_text])
    ctx.set_state(None)
    if u.intent in ("disclosure", "report"):
        from handlers.core import dispatch  # the same routing as outside the state

        return await dispatch(ctx.services.extras["router"], msg, ctx)
    return await guidance_reply(ctx, text, force=True)


@router.button("kb")
async def handle_entry_button(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    entry_id = (msg.button or "").split(":", 1)[1] if ":" in (msg.button or "") else ""
    kb = _kb(ctx)
    entry = kb.by_id.get(entry_id) if kb is not None else None
    if entry is None:
        return [Reply(ctx.t("input.stale_button"), main_menu_buttons(ctx))]
    return [answer_entry(ctx, entry)]


@router.button("fb")
async def handle_feedback(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    parts = (msg.button or "").split(":", 2)
    if len(parts) == 3 and parts[1] in ("up", "down"):
        await feedback_repo.add_feedback(
            ctx.session, entry_id=parts[2][:120], helpful=parts[1] == "up", now=ctx.now
        )
    return [Reply(ctx.t("guidance.thanks_feedback"), main_menu_buttons(ctx))]
