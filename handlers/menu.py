"""Greeting, main menu, help, emergency numbers, cancel, small talk and fallback."""

from __future__ import annotations

from handlers.context import HandlerContext
from handlers.core import main_menu_buttons
from handlers.hotlines import sos_text
from handlers.messages import Button, Inbound, Reply
from handlers.router import Router

__all__ = ["router", "handle_start"]

router = Router("menu")

# Hooks other features use to react to `/start PAYLOAD` deep links (e.g. a commune slug).
START_PAYLOAD_HOOKS: list = []


@router.command("start", "menu", "batdau")
async def handle_start(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    command = msg.command
    payload = command[1] if command and command[0] == "/start" else ""
    for hook in START_PAYLOAD_HOOKS:
        await hook(payload, msg, ctx)
    ctx.set_state(None)
    return [Reply(ctx.t("greeting"), main_menu_buttons(ctx))]


@router.button("menu:main")
async def handle_main_menu(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    ctx.set_state(None)
    return [Reply(ctx.t("greeting"), main_menu_buttons(ctx))]


@router.command("help", "trogiup")
async def handle_help(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    return [Reply(ctx.t("help"), main_menu_buttons(ctx))]


@router.command("sos", "khancap")
async def handle_sos(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    return [Reply(await sos_text(ctx), (Button(ctx.t("menu.main"), "menu:main"),))]


@router.button("menu:sos")
async def handle_sos_button(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    return await handle_sos(msg, ctx)


@router.command("huy", "cancel")
async def handle_cancel(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    if ctx.state is None:
        return [Reply(ctx.t("nothing_to_cancel"), main_menu_buttons(ctx))]
    ctx.set_state(None)
    return [Reply(ctx.t("cancelled"), main_menu_buttons(ctx))]


@router.button("menu:ask")
async def handle_ask_button(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    ctx.set_state("ask")
    return [Reply(ctx.t("ask_prompt"))]


@router.intent("smalltalk")
async def handle_smalltalk(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    norm = ctx.understand((msg.text or "")[:2000]).normalized or ""
    if any(w in norm for w in ("cam on", "thank", "tks", "thanks")):
        key = "smalltalk.thanks"
    elif any(w in norm for w in ("la ai", "ban ten", "may la", "bot gi", "lam duoc gi")):
        key = "smalltalk.who"
    else:
        key = "smalltalk.hello"
    return [Reply(ctx.t(key), main_menu_buttons(ctx))]


@router.intent("fallback")
async def handle_fallback(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    return [Reply(ctx.t("fallback"), main_menu_buttons(ctx))]
