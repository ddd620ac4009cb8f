"""Users, conversation state and the update ledger."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.db import dialect_of
from storage.models import ChatMenu, Conversation, ProcessedUpdate, User

LAST_SEEN_RESOLUTION = timedelta(minutes=5)

__all__ = [
    "MessageStart", "get_conversation", "get_or_create_user", "get_user", "get_user_and_conversation",
    "mark_blocked", "record_update", "start_message",
]


# Built once: every inbound message runs these (see storage/repositories/outbox.py).
_RECORD_UPDATE = {
    name: insert_fn(ProcessedUpdate.__table__).on_conflict_do_nothing(
        index_elements=["channel", "update_key"]
    )
    for name, insert_fn in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
_USER = select(User).where(User.channel == bindparam("channel"), User.user_key == bindparam("user_key"))
_CONVERSATION = select(Conversation).where(
    Conversation.channel == bindparam("channel"),
    Conversation.chat_id == bindparam("chat_id"),
    Conversation.user_key == bindparam("user_key"),
)


async def record_update(session: AsyncSession, *, channel: str, update_key: str, now: datetime) -> bool:
    """Record an update id; False when it was already processed (a redelivery).

    One INSERT … ON CONFLICT DO NOTHING: concurrent deliveries of the same update
    cannot both win, and nothing else in the transaction is disturbed."""
    result = await session.execute(
        _RECORD_UPDATE[dialect_of(session)], {"channel": channel, "update_key": update_key, "received_at": now}
    )
    return bool(result.rowcount)


async def get_user(session: AsyncSession, *, channel: str, user_key: str) -> User | None:
    return await session.scalar(_USER, {"channel": channel, "user_key": user_key})


async def get_or_create_user(
    session: AsyncSession, *, channel: str, user_key: str, now: datetime, locale: str = "vi"
) -> tuple[User, bool]:
    user = await get_user(session, channel=channel, user_key=user_key)
    if user is not None:
        if now - user.last_seen_at > LAST_SEEN_RESOLUTION:  # spare a write per message
            user.last_seen_at = now
        return user, False
    user = User(
        channel=channel, user_key=user_key, locale=locale, first_seen_at=now, last_seen_at=now,
        blocked=False,
    )
    session.add(user)
    await session.flush()
    return user, True


async def get_conversation(
    session: AsyncSession, *, channel: str, chat_id: str, user_key: str, now: datetime
) -> Conversation:
    conv = await session.scalar(
        _CONVERSATION, {"channel": channel, "chat_id": chat_id, "user_key": user_key}
    )
    if conv is None:
        conv = Conversation(
            channel=channel, chat_id=chat_id, user_key=user_key, state=None, data={}, updated_at=now
        )
        session.add(conv)
        await session.flush()
    return conv


_USER_AND_CONVERSATION = (
    select(User, Conversation)
    .outerjoin(Conversation, and_(
        Conversation.channel == User.channel,
        Conversation.user_key == User.user_key,
        Conversation.chat_id == bindparam("chat_id"),
    ))
    .where(User.channel == bindparam("channel"), User.user_key == bindparam("user_key"))
)


async def get_user_and_conversation(
    session: AsyncSession, *, channel: str, chat_id: str, user_key: str, now: datetime,
    locale: str = "vi",
) -> tuple[User, bool, Conversation]:
    """The sender and their conversation in this chat, created when missing; one
    statement for a known user (every message needs both)."""
    row = (await session.execute(
        _USER_AND_CONVERSATION, {"channel": channel, "user_key": user_key, "chat_id": chat_id}
    )).first()
    if row is None:  # a new user: the rare path, in the plain steps
        user, is_new = await get_or_create_user(
            session, channel=channel, user_key=user_key, now=now, locale=locale
        )
        conv = await get_conversation(
            session, channel=channel, chat_id=chat_id, user_key=user_key, now=now
        )
        return user, is_new, conv
    user, conv = row[0], row[1]
    if now - user.last_seen_at > LAST_SEEN_RESOLUTION:  # spare a write per message
        user.last_seen_at = now
    if conv is None:
        conv = await get_conversation(
            session, channel=channel, chat_id=chat_id, user_key=user_key, now=now
        )
    return user, False, conv


_START = (
    select(User, Conversation, ChatMenu.buttons)
    .outerjoin(Conversation, and_(
        Conversation.channel == User.channel,
        Conversation.user_key == User.user_key,
        Conversation.chat_id == bindparam("chat_id"),
    ))
    .outerjoin(ChatMenu, and_(ChatMenu.channel == User.channel, ChatMenu.chat_id == bindparam("chat_id")))
    .where(User.channel == bindparam("channel"), User.user_key == bindparam("user_key"))
)
_MENU = select(ChatMenu.buttons).where(
    ChatMenu.channel == bindparam("channel"), ChatMenu.chat_id == bindparam("chat_id")
)


class MessageStart:
    """What the core needs before handling a message (see `start_message`)."""

    __slots__ = ("conv", "is_new", "menu", "user")

    def __init__(self, user: User, is_new: bool, conv: Conversation, menu: list[list[str]]) -> None:
        self.user, self.is_new, self.conv, self.menu = user, is_new, conv, menu


def start_message(
    session: Session, *, channel: str, chat_id: str, user_key: str, update_key: str | None,
    now: datetime, locale: str = "vi", want_menu: bool = False,
) -> MessageStart | None:
    """The core's first steps for one inbound message, in the caller's transaction,
    for `AsyncSession.run_sync` (one hop to the database's side for all of them):
    record the update id (None when it was a redelivery), then load the sender, their
    conversation in this chat and the chat's menu (`want_menu`), creating what is
    missing. A known user takes one select for all three."""
    if update_key is not None:
        recorded = session.execute(
            _RECORD_UPDATE[dialect_of(session)],
            {"channel": channel, "update_key": update_key, "received_at": now},
        )
        if not recorded.rowcount:
            return None
    row = session.execute(
        _START, {"channel": channel, "user_key": user_key, "chat_id": chat_id}
    ).first()
    if row is None:
        # A new user. A conversation is only ever created after its user (below and in
        # get_user_and_conversation), so there is none to look for: both in one flush.
        user = User(
            channel=channel, user_key=user_key, locale=locale, first_seen_at=now,
            last_seen_at=now, blocked=False,
        )
        conv = Conversation(
            channel=channel, chat_id=chat_id, user_key=user_key, state=None, data={},
            updated_at=now,
        )
        session.add_all((user, conv))
        session.flush()
        menu = session.scalar(_MENU, {"channel": channel, "chat_id": chat_id}) if want_menu else None
        return MessageStart(user, True, conv, list(menu) if menu else [])
    user, conv, menu = row[0], row[1], row[2]
    if now - user.last_seen_at > LAST_SEEN_RESOLUTION:  # spare a write per message
        user.last_seen_at = now
    if conv is None:
        conv = Conversation(
            channel=channel, chat_id=chat_id, user_key=user_key, state=None, data={},
            updated_at=now,
        )
        session.add(conv)
        session.flush()
    return MessageStart(user, False, conv, list(menu) if menu else [])


async def mark_blocked(session: AsyncSession, *, channel: str, user_key: str) -> None:
    """The user blocked the bot: nothing more is sent to them."""
    await session.execute(
        update(User).where(User.channel == channel, User.user_key == user_key).values(blocked=True)
    )
