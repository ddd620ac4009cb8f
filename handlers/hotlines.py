"""Which hotline to show a user: their commune's, else the deployment default.

The hotline feature registers a lookup in `Services.extras["hotline_lookup"]`:
`async (session, user) -> (name, phone) | None`.
"""

from __future__ import annotations

from handlers.context import HandlerContext

__all__ = ["commune_hotline_line", "sos_text"]


async def commune_hotline_line(ctx: HandlerContext) -> str | None:
    lookup = ctx.services.extras.get("hotline_lookup")
    found = await lookup(ctx.session, ctx.user) if lookup is not None else None
    if found is None and ctx.services.settings.default_hotline:
        found = ("Đường dây nóng", ctx.services.settings.default_hotline)
    if found is None:
        return None
    name, phone = found
    return ctx.t("sos_hotline", name=name, phone=phone)


async def sos_text(ctx: HandlerContext) -> str:
    text = ctx.t("sos")
    line = await commune_hotline_line(ctx)
    return f"{text}\n{line}" if line else text
