"""The case service: creating cases, authorisation, the steps of ND 56/2017/NĐ-CP
chapter III, notes, referrals and the audit trail.

Authorisation lives here, not in the chat handlers: an officer or a supervisor
acts on their own commune's cases, a provincial officer on their province's. A
case outside the actor's scope is reported as "not found", so its existence is
not revealed. Every view, change, note and message is an audit event.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.hotline.codes import new_case_code, parse_case_code
from handlers.hotline.timelimits import HotlineConfig, cancel_limit, start_limit
from storage.models.hotline import Case, Commune, Officer
from storage.repositories import hotline as repo

__all__ = [
    "Actor",
    "CaseError",
    "Forbidden",
    "NEXT_STEPS",
    "NotFound",
    "REFERRALS",
    "ROLES",
    "STAT_FIELDS",
    "STEPS",
    "actor_for",
    "add_note",
    "add_reporter_text",
    "advance",
    "authorised_case",
    "claim",
    "close",
    "create_case",
    "list_open",
    "purge_closed",
    "record_message_to_reporter",
    "refer",
    "release",
    "scope_commune_ids",
    "set_separation",
    "set_stat",
    "view",
]

ROLES = ("officer", "supervisor", "province")

# ND 56/2017/NĐ-CP chương III: received (Điều 25, Mẫu 01) -> claimed -> verification
# and initial risk assessment (Điều 26, Mẫu 02) -> emergency protection if needed
# (Điều 26 k3, Điều 31) -> detailed assessment (Điều 27, Mẫu 03) -> support and
# intervention plan (Điều 28, Mẫu 04/05) -> implementation and monitoring (Điều 29)
# -> review and closing (Điều 30).
STEPS = ("received", "claimed", "verification", "emergency", "assessment", "plan",
         "implementation", "review", "closed")
NEXT_STEPS: dict[str, tuple[str, ...]] = {
    "claimed": ("verification",),
    "verification": ("emergency", "assessment"),
    "emergency": ("assessment",),
    "assessment": ("plan",),
    "plan": ("implementation",),
    "implementation": ("review",),
    "review": ("plan",),  # risk remains: plan again (Điều 30); or close
}
REFERRALS = ("police", "health", "legal", "hotline111")
STAT_FIELDS: dict[str, str] = {
    "age": "child_age_group",
    "sex": "child_sex",
    "place": "place_kind",
    "harmer": "harmer_relation",
}


class CaseError(Exception):
    """A refused action; `key` names the phrase to answer with."""

    key = "case.error"

    def __init__(self, key: str | None = None, **params: Any) -> None:
        super().__init__(key or self.key)
        if key:
            self.key = key
        self.params = params


class NotFound(CaseError):
    key = "case.not_found"


class Forbidden(CaseError):
    key = "case.forbidden"


@dataclass(frozen=True)
class Actor:
    officer: Officer
    commune: Commune

    @property
    def role(self) -> str:
        return self.officer.role

    @property
    def is_supervisor(self) -> bool:
        return self.officer.role in ("supervisor", "province")


async def actor_for(session: AsyncSession, *, channel: str, user_key: str) -> Actor | None:
    officer = await repo.officer_by_identity(session, channel=channel, user_key=user_key)
    if officer is None or not officer.active:
        return None
    commune = await repo.commune_by_id(session, commune_id=officer.commune_id)
    if commune is None:
        return None
    return Actor(officer, commune)


async def scope_commune_ids(session: AsyncSession, actor: Actor) -> list[int]:
    if actor.role == "province":
        return [c.id for c in await repo.communes(session) if c.province == actor.commune.province]
    return [actor.commune.id]


async def _in_scope(session: AsyncSession, actor: Actor, case: Case) -> bool:
    if case.commune_id is None:
        return False
    if actor.role == "province":
        commune = await repo.commune_by_id(session, commune_id=case.commune_id)
        return commune is not None and commune.province == actor.commune.province
    return case.commune_id == actor.commune.id


async def authorised_case(session: AsyncSession, actor: Actor, code: str) -> Case:
    parsed = parse_case_code(code)
    case = await repo.case_by_code(session, code=parsed) if parsed else None
    if case is None or case.purged_at is not None or not await _in_scope(session, actor, case):
        raise NotFound()
    return case


def _can_change(actor: Actor, case: Case) -> bool:
    return actor.is_supervisor or case.claimed_by == actor.officer.id


async def _changeable_case(session: AsyncSession, actor: Actor, code: str) -> Case:
    """An open case of the actor's scope that this officer may move: the claimer or a supervisor."""
    case = await authorised_case(session, actor, code)
    if case.closed_at is not None:
        raise CaseError("case.already_closed", code=case.code)
    if not _can_change(actor, case):
        raise Forbidden("case.not_yours", code=case.code)
    return case


async def _audit(session: AsyncSession, case: Case, actor: Actor, action: str, now: datetime,
                 detail: str | None = None, text_enc: str | None = None) -> None:
    await repo.add_event(session, case_id=case.id, at=now, actor="officer", action=action,
                         officer_id=actor.officer.id, detail=detail, text_enc=text_enc)


# -- creation --------------------------------------------------------------------------
@dataclass(frozen=True)
class Reporter:
    channel: str
    chat_id: str
    user_key: str


async def create_case(
    session: AsyncSession,
    *,
    cipher,
    config: HotlineConfig,
    now: datetime,
    draft: dict[str, Any],
    reporter: Reporter,
) -> tuple[Case, Commune | None] | None:
    """One case from an intake draft, with its first audit event and time limits.
    None when this draft already became a case (a double tap on confirm)."""
    token = str(draft.get("token") or "")
    if not token or await repo.case_by_draft(session, token=token) is not None:
        return None
    commune = None
    if draft.get("commune"):
        commune = await repo.commune_by_slug(session, slug=draft["commune"])
    if commune is None:
        commune = await repo.default_commune(session)

    def plain(key: str) -> str | None:
        value = draft.get(key)
        return cipher.decrypt(value, context="intake") if value else None

    details = {k: plain(k) for k in ("narrative", "where", "when_text", "phone")}
    details = {k: v for k, v in details.items() if v}
    address = json.dumps({"channel": reporter.channel, "chat_id": reporter.chat_id,
                          "user_key": reporter.user_key})
    for _ in range(20):
        code = new_case_code()
        if await repo.case_by_code(session, code=code) is None:
            break
    case = Case(
        code=code, draft_token=token, commune_id=commune.id if commune else None,
        village=draft.get("village"), category=draft.get("category") or "other",
        urgent=bool(draft.get("urgent")), age_range=draft.get("age"),
        child_age_group=draft.get("age"), when_code=draft.get("when"),
        relation=draft.get("relation"), anonymous=not draft.get("phone"),
        details_enc=cipher.encrypt(json.dumps(details, ensure_ascii=False), context="case")
        if details else None,
        reporter_pseudonym=cipher.pseudonym(reporter.channel, reporter.user_key),
        reporter_address_enc=cipher.encrypt(address, context="reporter"),
        step="received", emergency_needed=bool(draft.get("urgent")), created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(case)
            await session.flush()
    except IntegrityError:  # a concurrent confirm of the same draft won the race
        return None
    await repo.add_event(session, case_id=case.id, at=now, actor="reporter", action="created",
                         detail=f"{case.category}:{'urgent' if case.urgent else 'normal'}")
    await start_limit(session, case=case, limit="claim", config=config)
    if case.urgent:
        await start_limit(session, case=case, limit="emergency", config=config)
    await start_limit(session, case=case, limit="plan", config=config)
    return case, commune


# -- officers' actions -----------------------------------------------------------------
async def list_open(session: AsyncSession, actor: Actor) -> list[Case]:
    cases = await repo.open_cases(session, commune_ids=await scope_commune_ids(session, actor))
    return [c for c in cases if c.purged_at is None]


async def view(session: AsyncSession, actor: Actor, code: str, *, cipher, now: datetime
               ) -> tuple[Case, dict[str, str], list[tuple[datetime, str, str, str | None]]]:
    """The case, its decrypted details and its event history (audited)."""
    case = await authorised_case(session, actor, code)
    details: dict[str, str] = {}
    if case.details_enc:
        details = json.loads(cipher.decrypt(case.details_enc, context="case"))
    history = []
    for event in await repo.events_for(session, case_id=case.id):
        text = cipher.decrypt(event.text_enc, context="event") if event.text_enc else None
        history.append((event.at, event.action, event.detail or "", text))
    await _audit(session, case, actor, "viewed", now)
    return case, details, history


async def claim(session: AsyncSession, actor: Actor, code: str, *, now: datetime) -> Case:
    case = await authorised_case(session, actor, code)
    if case.closed_at is not None:
        raise CaseError("case.already_closed", code=case.code)
    if case.claimed_by is not None and case.claimed_by != actor.officer.id:
        raise CaseError("case.already_claimed", code=case.code)
    if case.claimed_by == actor.officer.id:
        raise CaseError("case.you_have_it", code=case.code)
    case.claimed_by = actor.officer.id
    case.claimed_at = case.claimed_at or now
    if case.step == "received":
        case.step = "claimed"
    await cancel_limit(session, case=case, now=now, limits=("claim",))
    await _audit(session, case, actor, "claimed", now)
    return case


async def release(session: AsyncSession, actor: Actor, code: str, *, now: datetime) -> Case:
    """'Chuyển người khác': the claimer (or a supervisor) hands the case back to the queue."""
    case = await authorised_case(session, actor, code)
    if case.closed_at is not None:
        raise CaseError("case.already_closed", code=case.code)
    if case.claimed_by is None:
        raise CaseError("case.not_claimed", code=case.code)
    if not _can_change(actor, case):
        raise Forbidden("case.not_yours", code=case.code)
    case.claimed_by = None
    if case.step == "claimed":
        case.step = "received"
    await _audit(session, case, actor, "released", now)
    return case


async def advance(session: AsyncSession, actor: Actor, code: str, target: str, *,
                  now: datetime, config: HotlineConfig) -> Case:
    case = await _changeable_case(session, actor, code)
    if target not in NEXT_STEPS.get(case.step, ()):
        raise CaseError("case.bad_step", code=case.code)
    previous, case.step = case.step, target
    if target == "emergency":
        case.emergency_needed = True
        await start_limit(session, case=case, limit="emergency", config=config)
    elif previous == "emergency" or (previous == "verification" and target == "assessment"):
        # Emergency protection done, or judged not needed: its limit is met.
        if previous == "emergency":
            case.emergency_done_at = now
        await cancel_limit(session, case=case, now=now, limits=("emergency",))
    if target == "implementation" and case.plan_done_at is None:
        case.plan_done_at = now
        await cancel_limit(session, case=case, now=now, limits=("plan",))
    await _audit(session, case, actor, "step", now, detail=f"{previous}>{target}")
    return case


async def close(session: AsyncSession, actor: Actor, code: str, *, now: datetime) -> Case:
    case = await _changeable_case(session, actor, code)
    previous = case.step
    case.step = "closed"
    case.closed_at = now
    if case.separation_started_at is not None and case.separation_ended_at is None:
        case.separation_ended_at = now
    await cancel_limit(session, case=case, now=now)
    await _audit(session, case, actor, "closed", now, detail=f"{previous}>closed")
    return case


async def set_separation(session: AsyncSession, actor: Actor, code: str, start: bool, *,
                         now: datetime, config: HotlineConfig) -> Case:
    """Temporary separation (ND 56/2017 Điều 32): at most 15 days, then a reminder."""
    case = await _changeable_case(session, actor, code)
    if start:
        if case.separation_started_at is None:
            case.separation_started_at = now
            await start_limit(session, case=case, limit="separation", config=config)
    elif case.separation_started_at is not None and case.separation_ended_at is None:
        case.separation_ended_at = now
        await cancel_limit(session, case=case, now=now, limits=("separation",))
    await _audit(session, case, actor, "separation", now, detail="start" if start else "end")
    return case


async def refer(session: AsyncSession, actor: Actor, code: str, target: str, *,
                now: datetime) -> Case:
    if target not in REFERRALS:
        raise CaseError("case.bad_step", code=code)
    case = await authorised_case(session, actor, code)
    if case.closed_at is not None:
        raise CaseError("case.already_closed", code=case.code)
    await _audit(session, case, actor, "referral", now, detail=target)
    return case


async def add_note(session: AsyncSession, actor: Actor, code: str, text: str, *, cipher,
                   now: datetime) -> Case:
    case = await authorised_case(session, actor, code)
    await _audit(session, case, actor, "note", now,
                 text_enc=cipher.encrypt(text, context="event"))
    return case


async def record_message_to_reporter(session: AsyncSession, actor: Actor, code: str, text: str,
                                     *, cipher, now: datetime) -> Case:
    case = await authorised_case(session, actor, code)
    if not case.reporter_address_enc:
        raise CaseError("case.no_reporter", code=case.code)
    await _audit(session, case, actor, "to_reporter", now,
                 text_enc=cipher.encrypt(text, context="event"))
    return case


async def set_stat(session: AsyncSession, actor: Actor, code: str, field: str, value: str, *,
                   allowed: dict[str, list[str]], now: datetime) -> Case:
    if field not in STAT_FIELDS or value not in allowed.get(field, []):
        raise CaseError("case.bad_step", code=code)
    case = await authorised_case(session, actor, code)
    setattr(case, STAT_FIELDS[field], value)
    await _audit(session, case, actor, "field", now, detail=f"{field}={value}")
    return case


async def add_reporter_text(session: AsyncSession, case: Case, text: str, action: str, *,
                            cipher, now: datetime) -> None:
    """Information the reporter added, or their answer to an officer (encrypted)."""
    await repo.add_event(session, case_id=case.id, at=now, actor="reporter", action=action,
                         text_enc=cipher.encrypt(text, context="event"))


def new_draft_token() -> str:
    return uuid.uuid4().hex


async def purge_closed(session: AsyncSession, *, before: datetime, now: datetime) -> int:
    """Delete the personal data of cases closed before `before` (Law 91/2025: delete
    once the purpose is fulfilled), keeping the coded fields for statistics."""
    from sqlalchemy import select

    query = select(Case).where(Case.closed_at.is_not(None), Case.closed_at < before,
                               Case.purged_at.is_(None))
    purged = 0
    for case in (await session.scalars(query)).all():
        case.details_enc = None
        case.reporter_pseudonym = None
        case.reporter_address_enc = None
        case.anonymous = True
        for event in await repo.events_for(session, case_id=case.id):
            event.text_enc = None
        await repo.delete_case_outbox(
            session, prefixes=[f"hl:{case.code}:", f"hl:draft:{case.draft_token}:"])
        case.purged_at = now
        purged += 1
    await session.flush()
    return purged
