"""The durable outbox: enqueue in the caller's transaction, claim with a lease,
mark sent / retry / dead. On PostgreSQL claims use FOR UPDATE SKIP LOCKED so
several workers never take the same row."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from storage.db import Prepared, dialect_of, on_async_session
from storage.models import ChatMenu, OutboxMessage

__all__ = [
    "claim_due",
    "defer",
    "enqueue",
    "enqueue_sync",
    "mark_dead",
    "mark_retry",
    "mark_sent",
    "mark_sent_many",
    "next_due_at",
    "pending_count",
]


# The hot path runs these for every message: built once (statement construction
# and cache-key generation cost more than SQLite itself), executed with parameters.
_OUTBOX = OutboxMessage.__table__
_MENUS = ChatMenu.__table__
_INSERT_OUTBOX = insert(_OUTBOX)
_DEDUPED = select(_OUTBOX.c.id).where(_OUTBOX.c.dedupe_key == bindparam("dedupe_key"))


def _upsert_menu(insert_fn):
    stmt = insert_fn(_MENUS)
    return stmt.on_conflict_do_update(
        index_elements=["channel", "chat_id"],
        set_={"buttons": stmt.excluded.buttons, "updated_at": stmt.excluded.updated_at},
    )


_UPSERT_MENU = {"postgresql": _upsert_menu(pg_insert), "sqlite": _upsert_menu(sqlite_insert)}
_OUTBOX_KEYS = ("channel", "chat_id", "user_key", "text", "buttons", "kind", "priority", "dedupe_key",
                "status", "attempts", "next_attempt_at", "created_at")
_INSERT_OUTBOX_FAST = Prepared(_INSERT_OUTBOX, keys=_OUTBOX_KEYS)
_UPSERT_MENU_FAST = {name: Prepared(stmt) for name, stmt in _UPSERT_MENU.items()}


def enqueue_sync(
    session: Session,
    *,
    channel: str,
    chat_id: str,
    text: str,
    buttons: Sequence[object] = (),
    user_key: str | None = None,
    kind: str = "reply",
    priority: int = 5,
    dedupe_key: str | None = None,
    now: datetime,
    not_before: datetime | None = None,
) -> bool:
    """Add a message; with a dedupe_key already queued, do nothing (returns False).

    Written for the synchronous session so that a caller already inside run_sync (the
    message hot path) adds no hop; `enqueue` is its async twin."""
    if dedupe_key is not None:
        if session.scalar(_DEDUPED, {"dedupe_key": dedupe_key}) is not None:
            return False
    pairs = [[b.label, b.data] for b in buttons]  # type: ignore[attr-defined]
    # Core statements on the session's connection: nothing in the session maps these rows.
    conn = session.connection()
    _INSERT_OUTBOX_FAST.execute(conn, {
        "channel": channel, "chat_id": chat_id, "user_key": user_key, "text": text,
        "buttons": pairs, "kind": kind, "priority": priority, "dedupe_key": dedupe_key,
        "status": "pending", "attempts": 0, "next_attempt_at": not_before or now,
        "created_at": now,
    })
    if pairs:
        _set_menu(session, channel=channel, chat_id=chat_id, buttons=pairs, now=now, conn=conn)
    return True


enqueue = on_async_session(
    enqueue_sync,
    "Add a message in the caller's transaction; with a dedupe_key already queued, do nothing "
    "(returns False). The dedupe check, the insert and the menu upsert cost one greenlet hop.",
)


async def set_menu(
    session: AsyncSession, *, channel: str, chat_id: str, buttons: list[list[str]], now: datetime
) -> None:
    """Remember the chat's latest buttons (one upsert statement)."""
    await session.run_sync(_set_menu, channel=channel, chat_id=chat_id, buttons=buttons, now=now)


def _set_menu(
    session: Session, *, channel: str, chat_id: str, buttons: list[list[str]], now: datetime,
    conn: Connection | None = None,
) -> None:
    conn = conn or session.connection()
    _UPSERT_MENU_FAST[conn.dialect.name].execute(
        conn, {"channel": channel, "chat_id": chat_id, "buttons": buttons, "updated_at": now},
    )
    cached = session.identity_map.get(session.identity_key(ChatMenu, (channel, chat_id)))
    if cached is not None:  # keep a loaded copy in step with the row
        session.expire(cached)


_MENU = select(_MENUS.c.buttons).where(
    _MENUS.c.channel == bindparam("channel"), _MENUS.c.chat_id == bindparam("chat_id")
)


async def get_menu(session: AsyncSession, *, channel: str, chat_id: str) -> list[list[str]]:
    buttons = await session.scalar(_MENU, {"channel": channel, "chat_id": chat_id})
    return list(buttons) if buttons else []


def _due_clause(now):
    c = _OUTBOX.c
    return or_(
        and_(c.status == "pending", c.next_attempt_at <= now),
        and_(c.status == "sending", c.lease_until < now),
    )


def _chat_busy(now):
    """An earlier message to the same chat is in flight (leased) or waiting for a
    retry: a later one must wait, so a chat never sees messages out of order, even
    with several workers."""
    c, older = _OUTBOX.c, _OUTBOX.alias("older").c
    return exists().where(
        older.channel == c.channel,
        older.chat_id == c.chat_id,
        older.id < c.id,
        or_(
            and_(older.status == "sending", older.lease_until >= now),
            and_(older.status == "pending", older.next_attempt_at > now),
        ),
    )


@functools.cache
def _claim_statements(dialect: str, limit: int, by_channel: bool):
    """The claim's statements for one shape, built once (the dispatcher runs them
    after every commit that queued messages), on the table rather than the ORM
    class: the rows are read, not loaded as objects. Parameters: now, until,
    owner, channels and, on PostgreSQL, the ids taken."""
    c = _OUTBOX.c
    now = bindparam("now")
    query = select(c.id).where(_due_clause(now), ~_chat_busy(now))
    if by_channel:
        # On SQLite, `channel || ''` keeps the planner off ix_outbox_chat for this
        # term: without statistics it would rather walk every row of the channel,
        # sent ones included, than the few due ones in ix_outbox_due.
        channel = c.channel + "" if dialect == "sqlite" else c.channel
        query = query.where(channel.in_(bindparam("channels", expanding=True)))
    query = query.order_by(c.priority, c.id).limit(limit)
    if dialect == "postgresql":
        pick = query.with_for_update(skip_locked=True)
        target = c.id.in_(bindparam("ids", expanding=True))
    else:
        pick = None
        target = and_(c.id.in_(query.scalar_subquery()), _due_clause(now))
    take = (
        update(_OUTBOX)
        .where(target)
        .values(status="sending", lease_owner=bindparam("owner"), lease_until=bindparam("until"),
                attempts=c.attempts + 1)
        .returning(*c)
    )
    return pick, take


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    owner: str,
    lease: timedelta,
    limit: int = 50,
    channels: Iterable[str] | None = None,
) -> list[Row]:
    """Take up to `limit` due messages for `owner` until now + lease (rows with
    the outbox's columns as attributes).

    PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so workers never wait on or take
    each other's rows. SQLite: one conditional UPDATE, atomic under the database's
    write lock. Both return what they took with UPDATE … RETURNING."""
    pick, take = _claim_statements(dialect_of(session), limit, channels is not None)
    params: dict = {"now": now, "until": now + lease, "owner": owner}
    if channels is not None:
        params["channels"] = list(channels)
    if pick is not None:
        ids = list((await session.scalars(pick, params)).all())
        if not ids:
            return []
        params["ids"] = ids
    # UPDATE … RETURNING: exactly the rows this statement took, nothing older.
    rows = (await session.execute(take, params)).all()
    return sorted(rows, key=lambda r: (r.priority, r.id))


async def _owned(session: AsyncSession, msg_id: int, owner: str, values: dict) -> bool:
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == msg_id, OutboxMessage.lease_owner == owner,
               OutboxMessage.status == "sending")
        .values(**values)
    )
    return bool(result.rowcount)


_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("b_id"), _OUTBOX.c.lease_owner == bindparam("b_owner"),
           _OUTBOX.c.status == "sending")
    .values(status="sent", sent_at=bindparam("b_now"), lease_until=None,
            platform_message_id=bindparam("b_platform_id"))
)


async def mark_sent(
    session: AsyncSession, msg_id: int, *, owner: str, now: datetime, platform_id: str | None
) -> bool:
    """Record one send; False when the lease was no longer ours."""
    result = await session.execute(
        _MARK_SENT, {"b_id": msg_id, "b_owner": owner, "b_now": now, "b_platform_id": platform_id}
    )
    return bool(result.rowcount)


async def mark_sent_many(
    session: AsyncSession, sent: Sequence[tuple[int, str | None]], *, owner: str, now: datetime
) -> None:
    """Record several sends in one statement (the dispatcher's group commit)."""
    if sent:
        await session.execute(_MARK_SENT, [
            {"b_id": msg_id, "b_owner": owner, "b_now": now, "b_platform_id": platform_id}
            for msg_id, platform_id in sent
        ])


async def mark_retry(
    session: AsyncSession, msg_id: int, *, owner: str, at: datetime, error: str
) -> bool:
    return await _owned(
        session, msg_id, owner,
        {"status": "pending", "next_attempt_at": at, "lease_until": None, "last_error": error[:300]},
    )


async def defer(session: AsyncSession, ids: Sequence[int], *, owner: str, at: datetime) -> None:
    """Give claimed messages back, untried, until `at` (their attempt is not counted)."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.lease_owner == owner,
               OutboxMessage.status == "sending")
        .values(status="pending", next_attempt_at=at, lease_until=None,
                attempts=OutboxMessage.attempts - 1)
    )


async def mark_dead(session: AsyncSession, msg_id: int, *, owner: str, error: str) -> bool:
    return await _owned(
        session, msg_id, owner, {"status": "dead", "lease_until": None, "last_error": error[:300]}
    )


async def next_due_at(session: AsyncSession) -> datetime | None:
    """When the dispatcher next has something to do: the earliest retry time among
    the heads of the chats' queues (a later message waits for its chat's head), or
    the earliest lease to expire."""
    older = aliased(OutboxMessage)
    head = ~exists().where(
        older.channel == OutboxMessage.channel,
        older.chat_id == OutboxMessage.chat_id,
        older.id < OutboxMessage.id,
        older.status.in_(["pending", "sending"]),
    )
    pending = await session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == "pending", head
        )
    )
    leased = await session.scalar(
        select(func.min(OutboxMessage.lease_until)).where(OutboxMessage.status == "sending")
    )
    candidates = [d for d in (pending, leased) if d is not None]
    if not candidates:
        return None
    # min() keeps the column type, so values come back as aware UTC datetimes.
    return min(candidates)


async def pending_count(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status.in_(["pending", "sending"])
            )
        )
        or 0
    )
