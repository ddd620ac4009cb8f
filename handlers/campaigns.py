"""Opt-in safety campaigns.

Parents subscribe with /nhantin (the bot asks their commune unless it knows it)
and stop with /huynhantin. A campaign is a list of knowledge-base entries sent
one per interval to the subscribers of chosen communes. `CampaignJob` queues each
step in batches (one transaction each): the outbox rows and the ledger rows that
make them exactly-once go in together, and the campaign's cursor moves in the same
commit, so a crash resumes with the next batch and nobody gets a message twice.
Campaign messages have priority 9: officers' urgent alerts (0) go first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import HandlerContext, Services
from handlers.core import main_menu_buttons
from handlers.messages import Button, Inbound, Reply
from handlers.router import Router
from storage.models.campaigns import Campaign
from storage.repositories import campaigns as repo
from storage.uow import UnitOfWork

__all__ = [
    "BATCH_SIZE",
    "CAMPAIGN_PRIORITY",
    "DATA_DIR",
    "CampaignJob",
    "phrase",
    "render_step",
    "router",
    "setup",
]

log = logging.getLogger("bvte.campaigns")

router = Router("campaigns")

CAMPAIGN_PRIORITY = 9
BATCH_SIZE = 500
STATE_COMMUNE = "campaigns:commune"
DATA_DIR = Path(__file__).resolve().parent / "campaigns_data"


@cache
def _phrases(locale: str) -> dict[str, str]:
    path = DATA_DIR / f"phrases.{locale}.yaml"
    if not path.exists():
        path = DATA_DIR / "phrases.vi.yaml"
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def phrase(key: str, locale: str = "vi", /, **params: object) -> str:
    value = _phrases(locale).get(key)
    if not isinstance(value, str):
        raise KeyError(f"missing campaigns phrase {key!r}")
    return value.format(**params) if params else value


# -- communes (the hotline feature owns them; campaigns only read) -------------------------


async def _find_commune(session: AsyncSession, text: str) -> tuple[str, str] | None:
    """(slug, name) of the commune the user typed, or None."""
    try:
        from handlers.hotline.communes import find_commune
    except ImportError:  # the hotline feature is not installed
        return None
    commune = await find_commune(session, text)
    if commune is None or commune.is_default:
        return None
    return commune.slug, commune.name


async def _has_communes(session: AsyncSession) -> bool:
    from storage.models.hotline import Commune

    return await session.scalar(select(Commune.id).where(Commune.is_default.is_(False)).limit(1)) is not None


async def _commune_name(session: AsyncSession, slug: str | None) -> str | None:
    if not slug:
        return None
    from storage.models.hotline import Commune

    return await session.scalar(select(Commune.name).where(Commune.slug == slug))


# -- /nhantin, /huynhantin ---------------------------------------------------------------------


async def _subscribe(ctx: HandlerContext, msg: Inbound, slug: str | None) -> list[Reply]:
    sub, new = await repo.subscribe(
        ctx.session, channel=msg.channel, user_key=msg.user_id, chat_id=msg.chat_id,
        commune_slug=slug, now=ctx.now,
    )
    if slug and not ctx.user.commune_slug:
        ctx.user.commune_slug = slug
    ctx.set_state(None)
    name = await _commune_name(ctx.session, sub.commune_slug)
    where = phrase("where", ctx.locale, commune=name) if name else ""
    return [Reply(phrase("subscribed" if new else "already", ctx.locale, where=where),
                  main_menu_buttons(ctx))]


@router.command("nhantin")
async def handle_subscribe(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    if msg.is_group:
        return [Reply(phrase("private_only", ctx.locale))]
    existing = await repo.get_subscription(ctx.session, channel=msg.channel, user_key=msg.user_id)
    typed = (msg.command[1] if msg.command else "").strip()
    if typed:
        found = await _find_commune(ctx.session, typed)
        if found is not None:
            return await _subscribe(ctx, msg, found[0])
    elif existing is not None and existing.active:
        return await _subscribe(ctx, msg, None)
    known = ctx.user.commune_slug or (existing.commune_slug if existing else None)
    if known and not typed:
        return await _subscribe(ctx, msg, known)
    if not await _has_communes(ctx.session):
        return await _subscribe(ctx, msg, None)  # nothing to choose from
    ctx.set_state(STATE_COMMUNE)
    if typed:
        return [Reply(phrase("not_found", ctx.locale, text=typed[:60]), _skip(ctx))]
    return [Reply(phrase("ask_commune", ctx.locale), _skip(ctx))]


def _skip(ctx: HandlerContext) -> tuple[Button, ...]:
    return (Button(phrase("skip", ctx.locale), "campaigns:skip"),)


@router.state(STATE_COMMUNE)
async def handle_commune(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    text = (msg.text or "").strip()
    found = await _find_commune(ctx.session, text) if text else None
    if found is None:
        return [Reply(phrase("not_found", ctx.locale, text=text[:60]), _skip(ctx))]
    return await _subscribe(ctx, msg, found[0])


@router.button("campaigns:skip")
async def handle_skip(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    return await _subscribe(ctx, msg, None)


@router.command("huynhantin")
async def handle_unsubscribe(msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    if msg.is_group:
        return [Reply(phrase("private_only", ctx.locale))]
    if ctx.state == STATE_COMMUNE:
        ctx.set_state(None)
    stopped = await repo.unsubscribe(
        ctx.session, channel=msg.channel, user_key=msg.user_id, now=ctx.now
    )
    return [Reply(phrase("unsubscribed" if stopped else "not_subscribed", ctx.locale),
                  main_menu_buttons(ctx))]


# -- the sending job --------------------------------------------------------------------------


def render_step(campaign: Campaign, step: int, kb: Any, locale: str = "vi") -> str | None:
    """The text of `step`, or None when its entry is not in the knowledge base."""
    entries = list(campaign.entries or [])
    entry = kb.by_id.get(entries[step]) if kb is not None and step < len(entries) else None
    if entry is None:
        return None
    parts = [phrase("header", locale, title=campaign.title, number=step + 1, total=len(entries))]
    intro = (campaign.intros or {}).get(entry.id)
    if intro:
        parts.append(intro.strip())
    elif getattr(entry, "audience", None) == "child":
        parts.append(phrase("read_with_child", locale))
    parts.append(f"{entry.title}\n\n{entry.answer.strip()}")
    parts.append(phrase("footer", locale))
    return "\n\n".join(parts)


def next_step_at(campaign: Campaign, finished_at: datetime) -> datetime:
    """When the next step is due: on schedule, but never sooner than half an interval
    after the last step (a bot that was down does not send three weeks at once)."""
    interval = timedelta(seconds=campaign.interval_seconds)
    planned = (campaign.start_at or finished_at) + interval * campaign.step
    return max(planned, finished_at + interval / 2)


class CampaignJob:
    """Queues due campaign steps; see the module docstring."""

    name = "campaigns"

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        services: Services,
        *,
        batch_size: int = BATCH_SIZE,
        max_batches: int | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.services = services
        self.batch_size = batch_size
        # Per run_due call and campaign (None: the whole step); lets the dispatcher
        # interleave with a huge step, and lets tests stop mid-campaign.
        self.max_batches = max_batches

    async def run_due(self, now: datetime) -> int:
        async with self.uow_factory() as uow:
            due = await repo.due_campaign_ids(uow.session, now=now)
        queued = 0
        for campaign_id in due:
            queued += await self._advance(campaign_id, now)
        if queued:
            await self._notify()
        return queued

    async def next_due(self) -> datetime | None:
        async with self.uow_factory() as uow:
            return await repo.next_campaign_due(uow.session)

    async def _advance(self, campaign_id: int, now: datetime) -> int:
        queued = batches = 0
        while self.max_batches is None or batches < self.max_batches:
            async with self.uow_factory() as uow:
                n, more = await self._one_batch(uow.session, campaign_id, now)
            queued += n
            batches += 1
            if not more:
                break
        return queued

    async def _one_batch(self, session: AsyncSession, campaign_id: int, now: datetime) -> tuple[int, bool]:
        """Queue one batch of the campaign's current step; (queued, more to do now)."""
        campaign = await repo.lock_campaign(session, campaign_id=campaign_id)
        if (campaign is None or campaign.status not in repo.ACTIVE_STATUSES
                or campaign.next_at is None or campaign.next_at > now):
            return 0, False
        step = campaign.step
        if step >= len(campaign.entries or []):
            campaign.status, campaign.next_at, campaign.updated_at = "done", None, now
            return 0, False
        kb = self.services.extras.get("kb")
        if kb is None:
            log.warning("campaign %s waits: the knowledge base is not loaded", campaign.name)
            return 0, False
        text = render_step(campaign, step, kb, self.services.settings.locale)
        targets = []
        if text is None:
            log.warning("campaign %s: entry %d is not in the knowledge base; skipped",
                        campaign.name, step + 1)
        else:
            targets = await repo.target_batch(
                session, campaign=campaign, step=step, after_id=campaign.cursor,
                limit=self.batch_size,
            )
            await repo.queue_batch(
                session, campaign=campaign, step=step, targets=targets, text=text,
                priority=CAMPAIGN_PRIORITY, now=now,
            )
        campaign.status = "running"
        campaign.updated_at = now
        if len(targets) == self.batch_size:
            campaign.cursor = targets[-1].subscription_id
            return len(targets), True
        # The step is complete: on to the next one (or the end).
        campaign.step = step + 1
        campaign.cursor = 0
        if campaign.step >= len(campaign.entries):
            campaign.status, campaign.next_at = "done", None
        else:
            campaign.next_at = next_step_at(campaign, now)
        log.info("campaign %s: step %d queued", campaign.name, step + 1)
        return len(targets), False

    async def _notify(self) -> None:
        hook = self.services.on_enqueued
        if hook is None:
            return
        result = hook()
        if result is not None:
            await result


def setup(app: Any) -> list[CampaignJob]:
    """`app` is bot.app.App (not imported: handlers must not depend on bot)."""
    job = CampaignJob(app.uow, app.services)
    app.services.extras["campaign_job"] = job
    return [job]
