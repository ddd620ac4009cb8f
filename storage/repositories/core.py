"""Users, conversation state and the update ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation, ProcessedUpdate, User

__all__ = ["get_conversation", "get_or_create_user", "get_user", "record_update"]


async def record_update(session: AsyncSession, *, channel: str, update_key: str, now: datetime) -> bool:
    """Record an update id; False when it was already processed (a redelivery)."""
    if await session.get(ProcessedUpdate, (channel, update_key)) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(ProcessedUpdate(channel=channel, update_key=update_key, received_at=now))
            await session.flush()
    except IntegrityError:
        return False
    return True


async def get_user(session: AsyncSession, *, channel: str, user_key: str) -> User | None:
    return await session.scalar(
        select(User).where(User.channel == channel, User.user_key == user_key)
    )


async def get_or_create_user(
    session: AsyncSession, *, channel: str, user_key: str, now: datetime, locale: str = "vi"
) -> tuple[User, bool]:
    user = await get_user(session, channel=channel, user_key=user_key)
    if user is not None:
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
        select(Conversation).where(
            Conversation.channel == channel,
            Conversation.chat_id == chat_id,
            Conversation.user_key == user_key,
        )
    )
    if conv is None:
        conv = Conversation(
            channel=channel, chat_id=chat_id, user_key=user_key, state=None, data={}, updated_at=now
        )
        session.add(conv)
        await session.flush()
    return conv
