"""The hotline queue (issue #4): anonymous reports that reach the right commune's
child-protection officers at once and are followed, within the legal time limits
of ND 56/2017/NĐ-CP chapter III, until closed.

Wiring: `router` (intake, officers, follow-up) and `setup(app)`, which registers
the hotline lookup, the `/start SLUG` deep-link hook and returns the time-limit
job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.hotline import followup, intake, officers
from handlers.hotline.communes import hotline_lookup, resolve_commune
from handlers.hotline.timelimits import HotlineConfig, TimersJob
from handlers.router import Router

if TYPE_CHECKING:
    from handlers.context import HandlerContext
    from handlers.jobs import Job
    from handlers.messages import Inbound

__all__ = ["HotlineConfig", "router", "setup", "start_payload_hook"]

router = Router("hotline").include(intake.router, officers.router, followup.router)


async def start_payload_hook(payload: str, msg: Inbound, ctx: HandlerContext) -> None:
    """`/start quan-son` (or a commune's name): remember the user's commune; an
    unknown one maps to the provincial default queue."""
    payload = (payload or "").strip()
    if not payload:
        return
    commune = await resolve_commune(ctx.session, payload.replace("_", "-"))
    if commune is not None:
        ctx.user.commune_slug = commune.slug


def setup(app) -> list[Job]:
    from handlers import menu

    extras = app.services.extras
    config = extras.get("hotline_config")
    if config is None:
        config = HotlineConfig.from_env(timezone=app.services.settings.timezone)
        extras["hotline_config"] = config
    extras["hotline_lookup"] = hotline_lookup
    if start_payload_hook not in menu.START_PAYLOAD_HOOKS:
        menu.START_PAYLOAD_HOOKS.append(start_payload_hook)
    job = TimersJob(app.uow, extras["cipher"], config,
                    on_enqueued=lambda: app.services.on_enqueued and app.services.on_enqueued())
    return [job]
