"""Users, conversation state and the update ledger."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.db import Prepared, dialect_of
from storage.models import ChatMenu, Conversation, ProcessedUpdate, User

LAST_SEEN_RESOLUTION = timedelta(minutes=5)

__all__ = [
    "ConversationRecord", "MessageStart", "UserRecord", "get_conversation", "get_or_create_user", "get_user", "get_user_and_conversation",
    "mark_blocked", "record_update", "save_conversation", "save_user", "start_message",
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


_USERS = User.__table__
_CONVERSATIONS = Conversation.__table__
_MENUS = ChatMenu.__table__
_USER_COLUMNS = ("id", "channel", "user_key", "locale", "commune_slug", "blocked", "first_seen_at",
                 "last_seen_at")
_START = (
    select(
        *(_USERS.c[name] for name in _USER_COLUMNS),
        _CONVERSATIONS.c.id.label("conv_id"), _CONVERSATIONS.c.state, _CONVERSATIONS.c.data,
        _CONVERSATIONS.c.updated_at, _MENUS.c.buttons,
    )
    .select_from(
        _USERS.outerjoin(_CONVERSATIONS, and_(
            _CONVERSATIONS.c.channel == _USERS.c.channel,
            _CONVERSATIONS.c.user_key == _USERS.c.user_key,
            _CONVERSATIONS.c.chat_id == bindparam("chat_id"),
        )).outerjoin(_MENUS, and_(
            _MENUS.c.channel == _USERS.c.channel, _MENUS.c.chat_id == bindparam("chat_id"),
        ))
    )
    .where(_USERS.c.channel == bindparam("channel"), _USERS.c.user_key == bindparam("user_key"))
)
_MENU = select(_MENUS.c.buttons).where(
    _MENUS.c.channel == bindparam("channel"), _MENUS.c.chat_id == bindparam("chat_id")
)
_START_FAST = Prepared(_START)
_MENU_FAST = Prepared(_MENU)
_RECORD_UPDATE_FAST = {name: Prepared(stmt) for name, stmt in _RECORD_UPDATE.items()}
_INSERT_USER = Prepared(
    insert(_USERS), keys=[name for name in _USER_COLUMNS if name != "id"], new_id=True
)
_INSERT_CONVERSATION = Prepared(
    insert(_CONVERSATIONS), keys=["channel", "chat_id", "user_key", "state", "data", "updated_at"],
    new_id=True,
)


class UserRecord:
    """The sender as the core hands it to handlers: a plain object (loading an ORM
    object per message cost more than the select itself). What a handler changes
    (say commune_slug) is written back by `save_user`."""

    __slots__ = (*_USER_COLUMNS, "_loaded")

    def __init__(self, **values: object) -> None:
        for name in _USER_COLUMNS:
            setattr(self, name, values[name])
        self._loaded = tuple(values[name] for name in _USER_COLUMNS)

    def changes(self) -> dict[str, object]:
        return {
            name: getattr(self, name)
            for name, loaded in zip(_USER_COLUMNS, self._loaded, strict=True)
            if getattr(self, name) != loaded
        }

    def __repr__(self) -> str:
        return f"UserRecord(id={self.id}, channel={self.channel!r})"


class ConversationRecord:
    """A conversation as a plain object; HandlerContext changes it and the core writes
    it back with `save_conversation`."""

    __slots__ = ("channel", "chat_id", "data", "id", "state", "updated_at", "user_key")

    def __init__(self, *, id: int, channel: str, chat_id: str, user_key: str, state: str | None,
                 data: dict[str, Any], updated_at: datetime) -> None:
        self.id, self.channel, self.chat_id, self.user_key = id, channel, chat_id, user_key
        self.state, self.data, self.updated_at = state, data, updated_at

    def __repr__(self) -> str:
        return f"ConversationRecord(id={self.id}, state={self.state!r})"


class MessageStart:
    """What the core needs before handling a message (see `start_message`)."""

    __slots__ = ("conv", "is_new", "menu", "user")

    def __init__(self, user: UserRecord, is_new: bool, conv: ConversationRecord,
                 menu: list[list[str]]) -> None:
        self.user, self.is_new, self.conv, self.menu = user, is_new, conv, menu


def _new_conversation(conn, *, channel: str, chat_id: str, user_key: str, now: datetime):
    result = _INSERT_CONVERSATION.execute(conn, {
        "channel": channel, "chat_id": chat_id, "user_key": user_key, "state": None, "data": {},
        "updated_at": now,
    })
    return ConversationRecord(
        id=result.lastrowid, channel=channel, chat_id=chat_id, user_key=user_key,
        state=None, data={}, updated_at=now,
    )


def start_message(
    session: Session, *, channel: str, chat_id: str, user_key: str, update_key: str | None,
    now: datetime, locale: str = "vi", want_menu: bool = False,
) -> MessageStart | None:
    """The core's first steps for one inbound message, in the caller's transaction,
    for `AsyncSession.run_sync` (one hop to the database's side for all of them):
    record the update id (None when it was a redelivery), then load the sender, their
    conversation in this chat and the chat's menu (`want_menu`), creating what is
    missing. A known user takes one select for all three.

    Users and conversations are read and written here with prebuilt Core statements
    on the session's connection, as plain records: no other code maps them."""
    conn = session.connection()
    if update_key is not None:
        recorded = _RECORD_UPDATE_FAST[conn.dialect.name].execute(
            conn, {"channel": channel, "update_key": update_key, "received_at": now}
        )
        if not recorded.rowcount:
            return None
    row = _START_FAST.execute(
        conn, {"channel": channel, "user_key": user_key, "chat_id": chat_id}
    ).first()
    if row is None:
        # A new user. A conversation is only ever created after its user (here and in
        # get_user_and_conversation), so there is none to look for.
        values: dict[str, Any] = {
            "channel": channel, "user_key": user_key, "locale": locale, "commune_slug": None,
            "blocked": False, "first_seen_at": now, "last_seen_at": now,
        }
        values["id"] = _INSERT_USER.execute(conn, values).lastrowid
        conv = _new_conversation(conn, channel=channel, chat_id=chat_id, user_key=user_key, now=now)
        menu = (
            _MENU_FAST.execute(conn, {"channel": channel, "chat_id": chat_id}).scalar()
            if want_menu else None
        )
        return MessageStart(UserRecord(**values), True, conv, list(menu) if menu else [])
    user = UserRecord(**{name: row[index] for index, name in enumerate(_USER_COLUMNS)})
    if now - user.last_seen_at > LAST_SEEN_RESOLUTION:  # spare a write per message
        user.last_seen_at = now
    conv_id, state, data, updated_at, menu = row[len(_USER_COLUMNS):]
    if conv_id is None:
        conv = _new_conversation(conn, channel=channel, chat_id=chat_id, user_key=user_key, now=now)
    else:
        conv = ConversationRecord(
            id=conv_id, channel=channel, chat_id=chat_id, user_key=user_key, state=state,
            data=data if data is not None else {}, updated_at=updated_at,
        )
    return MessageStart(user, False, conv, list(menu) if menu else [])


_SAVE_CONVERSATION = Prepared(
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("b_id"))
    .values(state=bindparam("b_state"), data=bindparam("b_data"), updated_at=bindparam("b_at"))
)


def save_conversation(session: Session, conv: ConversationRecord) -> None:
    """Write a conversation's state, data and time as the record holds them."""
    _SAVE_CONVERSATION.execute(
        session.connection(),
        {"b_id": conv.id, "b_state": conv.state, "b_data": conv.data, "b_at": conv.updated_at},
    )


@functools.cache
def _update_user(columns: tuple[str, ...]) -> Prepared:
    return Prepared(
        update(_USERS)
        .where(_USERS.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in columns})
    )


def save_user(session: Session, user: UserRecord) -> bool:
    """Write the columns of the sender that changed since they were loaded (none: no
    statement); True when something was written."""
    changes = user.changes()
    if not changes:
        return False
    columns = tuple(sorted(changes))
    params = {f"b_{name}": value for name, value in changes.items()}
    params["b_id"] = user.id
    _update_user(columns).execute(session.connection(), params)
    user._loaded = tuple(getattr(user, name) for name in _USER_COLUMNS)
    return True


async def mark_blocked(session: AsyncSession, *, channel: str, user_key: str) -> None:
    """The user blocked the bot: nothing more is sent to them."""
    await session.execute(
        update(User).where(User.channel == channel, User.user_key == user_key).values(blocked=True)
    )
