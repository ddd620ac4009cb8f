"""Emergency and disclosure: answered before anything else, never with an article."""

from __future__ import annotations

from handlers.context import HandlerContext
from handlers.core import main_menu_buttons
from handlers.hotlines import commune_hotline_line
from handlers.messages import Button, Inbound, Reply
from handlers.router import Router

__all__ = ["router"]

router = Router("safety")

# Words of self-harm: the writer is the one in danger, so the answer speaks to them.
SELF_HARM = ("tu tu", "muon chet", "khong muon song", "tu sat", "rach tay", "cat tay", "ket lieu")


def remember_story(msg: Inbound, ctx: HandlerContext) -> None:
    """Keep what the writer just told (encrypted), so a report opened from the
    offer starts with it instead of asking them to tell it again."""
    text = (msg.text or "").strip()
    if text:
        ctx.update_data(told=ctx.cipher.encrypt(text, context="intake"), told_at=ctx.now.isoformat())


async def _with_hotline(ctx: HandlerContext, text: str) -> str:
    line = await commune_hotline_line(ctx)
    return f"{text}\n{line}" if line else text


@router.intent("emergency")
async def handle_emergency(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    norm = ctx.understand((msg.text or "")[:2000]).normalized or ""
    buttons = (
        Button(ctx.t("buttons.report_urgent"), "report:urgent"),
        Button(ctx.t("menu.sos"), "menu:sos"),
    )
    remember_story(msg, ctx)
    replies = [Reply(await _with_hotline(ctx, ctx.t("emergency")), buttons)]
    if any(w in norm for w in SELF_HARM):
        replies.insert(0, Reply(ctx.t("emergency_self")))
    return replies


@router.intent("disclosure")
async def handle_disclosure(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    buttons = (
        Button(ctx.t("buttons.report"), "report:start"),
        Button(ctx.t("menu.sos"), "menu:sos"),
        main_menu_buttons(ctx)[0],
    )
    remember_story(msg, ctx)
    return [Reply(await _with_hotline(ctx, ctx.t("disclosure")), buttons)]
