"""What a handler gets: the unit of work's session, the user, their conversation
state, the injected services and a way to queue messages to other chats."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.clock import Clock
from handlers.messages import Button, Reply
from handlers.texts import t as _t
from storage.repositories import outbox as outbox_repo
from storage.repositories.core import ConversationRecord, UserRecord

if TYPE_CHECKING:
    from handlers.understanding import Understanding

__all__ = ["CoreSettings", "HandlerContext", "Services"]


@dataclass(frozen=True)
class CoreSettings:
    timezone: str = "Asia/Ho_Chi_Minh"
    default_hotline: str | None = None
    default_commune: str | None = None
    locale: str = "vi"
    # Platform-independent cap on what we read of one message.
    max_text: int = 4000


@dataclass
class Services:
    """Long-lived collaborators, built once by the composition root."""

    clock: Clock
    settings: CoreSettings = field(default_factory=CoreSettings)
    understand: Callable[[str], Understanding] | None = None
    # Feature services by name (e.g. "crypto", "hotline"), set by the app.
    extras: dict[str, Any] = field(default_factory=dict)
    # Called after a commit that queued messages, so the dispatcher wakes at once.
    on_enqueued: Callable[[], Awaitable[None] | None] | None = None


class HandlerContext:
    def __init__(
        self,
        *,
        session: AsyncSession,
        services: Services,
        user: UserRecord,
        conv: ConversationRecord,
        is_new_user: bool = False,
    ) -> None:
        self.session = session
        self.services = services
        self.user = user
        self.conv = conv
        self.is_new_user = is_new_user
        self.now: datetime = services.clock.now()
        self.queued = 0
        # The conversation's state changed: the core writes it with the replies.
        self.state_changed = False
        self._understanding: dict[str, Understanding] = {}

    # -- phrases -------------------------------------------------------------
    @property
    def locale(self) -> str:
        return self.user.locale or self.services.settings.locale

    @property
    def cipher(self):  # handlers.crypto.Cipher
        return self.services.extras["cipher"]

    def t(self, key: str, **params: object) -> str:
        return _t(key, self.locale, **params)

    # -- conversation state ----------------------------------------------------
    @property
    def state(self) -> str | None:
        return self.conv.state

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.conv.data or {})

    def set_state(self, state: str | None, **data: Any) -> None:
        """Enter `state`, replacing the state data (None clears both)."""
        if state is None and self.conv.state is None and not self.conv.data:
            return  # already clear: spare the write
        self._change_state(state, dict(data) if state else {})

    def update_data(self, **data: Any) -> None:
        merged = dict(self.conv.data or {})
        merged.update(data)
        self._change_state(self.conv.state, merged)

    def _change_state(self, state: str | None, data: dict[str, Any]) -> None:
        # A plain record: Core.handle writes it back (core_repo.save_conversation).
        conv = self.conv
        conv.state, conv.data, conv.updated_at = state, data, self.now
        self.state_changed = True

    # -- understanding ----------------------------------------------------------
    def understand(self, text: str) -> Understanding:
        if text not in self._understanding:
            from handlers.understanding import understand_text

            self._understanding[text] = understand_text(self.services, text)
        return self._understanding[text]

    # -- sending to others --------------------------------------------------------
    async def send(
        self,
        channel: str,
        chat_id: str,
        reply: Reply,
        *,
        user_key: str | None = None,
        kind: str = "notice",
        priority: int = 5,
        dedupe_key: str | None = None,
        delay: timedelta | None = None,
        sensitive: bool = False,
    ) -> None:
        """Queue a message to any chat in this transaction (the durable outbox).
        `sensitive` texts (case details) are stored encrypted until sent."""
        text = reply.text
        if sensitive:
            text = self.services.extras["cipher"].encrypt(text, context="outbox")
        await outbox_repo.enqueue(
            self.session,
            channel=channel,
            chat_id=chat_id,
            text=text,
            buttons=reply.buttons,
            user_key=user_key,
            kind=kind,
            priority=priority,
            dedupe_key=dedupe_key,
            now=self.now,
            not_before=self.now + delay if delay else None,
        )
        self.queued += 1


def buttons_to_json(buttons: tuple[Button, ...]) -> list[list[str]]:
    return [[b.label, b.data] for b in buttons]
