"""Messages to officers and reporters, queued in the caller's transaction.

Everything that names a case goes out with a dedupe key starting "hl:<CODE>:",
so `bvte cases purge` can also delete the delivered copies from the outbox."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.hotline.texts import choices, t
from handlers.hotline.timelimits import HotlineConfig
from handlers.messages import Button, Reply
from storage.models.hotline import Case, CaseTimer, Commune, Officer
from storage.repositories import hotline as repo
from storage.repositories import outbox as outbox_repo

__all__ = [
    "Mailer",
    "case_buttons",
    "escalate",
    "fmt_local",
    "label",
    "new_case_text",
    "notify_new_case",
    "officer_label",
    "reporter_address",
]

log = logging.getLogger("bvte.hotline")

URGENT_PRIORITY = 0
OFFICER_PRIORITY = 2
REPLY_PRIORITY = 3


class Mailer:
    """Queues outbox messages: through the handler context when there is one (so
    the dispatcher is woken after the commit), else straight into the session."""

    def __init__(self, session: AsyncSession, cipher, now: datetime, ctx=None) -> None:
        self.session = session
        self.cipher = cipher
        self.now = now
        self.ctx = ctx
        self.count = 0

    @classmethod
    def from_ctx(cls, ctx) -> Mailer:
        return cls(ctx.session, ctx.cipher, ctx.now, ctx)

    async def send(
        self,
        channel: str,
        chat_id: str,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        user_key: str | None = None,
        priority: int = OFFICER_PRIORITY,
        dedupe_key: str | None = None,
        sensitive: bool = True,
        kind: str = "notice",
    ) -> None:
        self.count += 1
        if self.ctx is not None:
            await self.ctx.send(
                channel, chat_id, Reply(text, buttons), user_key=user_key, kind=kind,
                priority=priority, dedupe_key=dedupe_key, sensitive=sensitive,
            )
            return
        body = self.cipher.encrypt(text, context="outbox") if sensitive else text
        await outbox_repo.enqueue(
            self.session, channel=channel, chat_id=chat_id, text=body, buttons=buttons,
            user_key=user_key, kind=kind, priority=priority, dedupe_key=dedupe_key, now=self.now,
        )

    async def to_officer(self, officer: Officer, text: str, buttons: tuple[Button, ...] = (), *,
                         key: str, priority: int = OFFICER_PRIORITY) -> None:
        await self.send(officer.channel, officer.chat_id, text, buttons, user_key=officer.user_key,
                        priority=priority, dedupe_key=f"{key}:o{officer.id}")

    async def to_group(self, commune: Commune | None, text: str, buttons: tuple[Button, ...] = (),
                       *, key: str, priority: int = OFFICER_PRIORITY) -> bool:
        if commune is None or not commune.group_chat_id or not commune.group_channel:
            return False
        await self.send(commune.group_channel, commune.group_chat_id, text, buttons,
                        priority=priority, dedupe_key=f"{key}:g")
        return True


def unique_key(code: str, what: str) -> str:
    return f"hl:{code}:{what}:{uuid.uuid4().hex[:10]}"


# -- formatting -------------------------------------------------------------------
def label(group: str, code: str | None, locale: str = "vi") -> str:
    if not code:
        return t("unknown", locale)
    return choices(group, locale).get(code, code)


def fmt_local(when: datetime | None, config: HotlineConfig) -> str:
    if when is None:
        return "—"
    return when.astimezone(config.tz).strftime("%H:%M %d/%m/%Y")


def officer_label(officer: Officer | None) -> str:
    if officer is None:
        return t("officer.nobody")
    return officer.display_name or t("officer.someone", id=officer.id)


def place_text(case: Case, commune: Commune | None) -> str:
    name = commune.name if commune is not None else t("unknown")
    if case.village:
        return t("place_with_village", commune=name, village=case.village)
    return name


def case_buttons(code: str) -> tuple[Button, ...]:
    return (
        Button(t("buttons.claim"), f"case:claim:{code}"),
        Button(t("buttons.view"), f"case:view:{code}"),
        Button(t("buttons.pass"), f"case:pass:{code}"),
    )


def new_case_text(case: Case, commune: Commune | None, config: HotlineConfig, claim_by: datetime) -> str:
    head = t("notify.new_urgent" if case.urgent else "notify.new", code=case.code)
    return t(
        "notify.body", head=head, category=label("categories", case.category),
        place=place_text(case, commune), age=label("ages", case.age_range),
        received=fmt_local(case.created_at, config), claim_by=fmt_local(claim_by, config),
    )


async def notify_new_case(
    session: AsyncSession, mailer: Mailer, case: Case, commune: Commune | None,
    config: HotlineConfig, claim_by: datetime,
) -> int:
    """The officers' group and every registered officer of the commune, privately."""
    if commune is None:
        log.warning("hotline: a case has no commune and no default queue is configured")
        return 0
    text = new_case_text(case, commune, config, claim_by)
    buttons = case_buttons(case.code)
    priority = URGENT_PRIORITY if case.urgent else OFFICER_PRIORITY
    key = f"hl:{case.code}:new"
    sent = int(await mailer.to_group(commune, text, buttons, key=key, priority=priority))
    for officer in await repo.officers_of(session, commune_id=commune.id,
                                          roles=("officer", "supervisor")):
        await mailer.to_officer(officer, text, buttons, key=key, priority=priority)
        sent += 1
    if sent == 0:
        # Nobody registered yet: the provincial officers must not miss it.
        for officer in await repo.province_officers(session, province=commune.province):
            await mailer.to_officer(officer, text, buttons, key=key, priority=priority)
            sent += 1
    return sent


def reporter_address(cipher, case: Case) -> dict[str, str] | None:
    if not case.reporter_address_enc:
        return None
    return json.loads(cipher.decrypt(case.reporter_address_enc, context="reporter"))


# -- escalation -----------------------------------------------------------------------
async def _targets(session: AsyncSession, case: Case, commune: Commune | None,
                   target: str) -> tuple[list[Officer], bool]:
    """(officers to remind privately, also tell the group)."""
    if commune is None:
        return [], False
    if target == "claimer":
        claimer = await repo.officer_by_id(session, officer_id=case.claimed_by)
        if claimer is not None and claimer.active:
            return [claimer], False
        return [], True
    if target == "supervisors":
        sups = await repo.officers_of(session, commune_id=commune.id, roles=("supervisor",))
        return sups, not sups
    if target == "province":
        return await repo.province_officers(session, province=commune.province), False
    log.warning("hotline: unknown escalation level %s", target)
    return [], False


async def escalate(session: AsyncSession, mailer: Mailer, timer: CaseTimer,
                   config: HotlineConfig, now: datetime) -> None:
    case = await session.get(Case, timer.case_id)
    if case is None or case.closed_at is not None or case.purged_at is not None:
        return
    commune = await repo.commune_by_id(session, commune_id=case.commune_id)
    officers, group = await _targets(session, case, commune, timer.target)
    text = t(
        "escalation.text", code=case.code, limit=t(f"limits.{timer.limit_name}"),
        deadline=fmt_local(timer.deadline, config), level=t(f"levels.{timer.target}"),
        step=t(f"steps.{case.step}"), place=place_text(case, commune),
        claimer=officer_label(await repo.officer_by_id(session, officer_id=case.claimed_by)),
    )
    buttons = case_buttons(case.code) if case.claimed_by is None else (
        Button(t("buttons.view"), f"case:view:{case.code}"),)
    key = f"hl:{case.code}:timer{timer.id}"
    priority = URGENT_PRIORITY if case.urgent else OFFICER_PRIORITY
    for officer in officers:
        await mailer.to_officer(officer, text, buttons, key=key, priority=priority)
    if group:
        await mailer.to_group(commune, text, buttons, key=key, priority=priority)
    await repo.add_event(
        session, case_id=case.id, at=now, actor="system", action="escalated",
        detail=f"{timer.limit_name}:{timer.target}:{len(officers) + int(group)}",
    )
