"""Channel-neutral message types. Standard library only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "Button",
    "DeliveryError",
    "Inbound",
    "Outbound",
    "Reply",
    "SendResult",
]

# What an inbound message carries besides text; adapters map platform kinds here.
KINDS = ("text", "button", "sticker", "photo", "voice", "file", "unsupported", "edited", "empty")


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    # An action key such as "menu:ask" or "case:claim:BV-7K3Q9X" (<= 64 bytes for Telegram).
    data: str


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from a user, whatever the platform."""

    channel: str
    chat_id: str
    user_id: str
    text: str | None = None
    # Action key of a pressed button (resolved by the core when a label/number was typed).
    button: str | None = None
    kind: str = "text"
    chat_type: str = "private"  # private | group
    message_id: str | None = None
    update_id: str | None = None
    at: datetime | None = None
    display_name: str | None = None
    # The platform has no inline buttons: a typed number picks a button of the last menu.
    numbered_menus: bool = False

    @property
    def is_group(self) -> bool:
        return self.chat_type == "group"

    @property
    def command(self) -> tuple[str, str] | None:
        """('/start', 'rest of line') when the text is a command, else None."""
        text = (self.text or "").strip()
        if not text.startswith("/") or len(text) < 2:
            return None
        head, _, rest = text.partition(" ")
        name = head.split("@", 1)[0].lower()  # /start@fakebot in groups
        return name, rest.strip()


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message the dispatcher hands to a channel."""

    id: int
    channel: str
    chat_id: str
    text: str
    buttons: tuple[Button, ...] = ()
    user_key: str | None = None
    kind: str = "reply"


@dataclass(frozen=True, slots=True)
class SendResult:
    platform_message_id: str | None = None


@dataclass
class DeliveryError(Exception):
    """A channel could not deliver. `permanent` means never retry (blocked, bad chat)."""

    reason: str
    permanent: bool = False
    retry_after: float | None = None
    blocked: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.reason
