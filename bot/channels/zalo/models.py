"""Pydantic models for Zalo Bot API payloads.

Tolerant by design: unknown fields are kept (`extra="allow"`), most fields are
optional, and every id is a string (Zalo ids are opaque hex; never `int()`).
Field names follow python-zalo-bot where it has them (`Message.from_user`,
`Message.photo_url`, `Chat.type`) while also accepting the documented wire
names (`from`, `photo`, `chat_type`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = ["Chat", "Message", "Update", "User", "Webhook", "parse_update"]


def _as_str(value: Any) -> Any:
    # JSON numbers (some clients see numeric ids) become their exact decimal text.
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


def _from_epoch_ms(value: Any) -> Any:
    """Epoch milliseconds (int or digit string) -> aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return value


Id = Annotated[str, BeforeValidator(_as_str)]
OptionalId = Annotated[str | None, BeforeValidator(_as_str)]
EpochMs = Annotated[datetime | None, BeforeValidator(_from_epoch_ms)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class User(_Model):
    """A Zalo user or the bot itself (getMe adds account_* fields)."""

    id: Id
    display_name: str | None = None
    account_name: str | None = None
    account_type: str | None = None
    is_bot: bool = False
    can_join_groups: bool | None = None


class Chat(_Model):
    """`type` is `PRIVATE` or `GROUP` (beta); wire name `chat_type`."""

    id: Id
    type: str = Field(default="PRIVATE", alias="chat_type")

    @property
    def is_group(self) -> bool:
        return self.type.upper() == "GROUP"


class Message(_Model):
    message_id: Id = ""
    date: EpochMs = None
    chat: Chat | None = None
    from_user: User | None = Field(default=None, alias="from")
    text: str | None = None
    # The docs send `photo`; the SDK reads `photo_url`. Both are filled.
    photo: str | None = None
    photo_url: str | None = None
    caption: str | None = None
    sticker: str | None = None
    url: str | None = None
    voice_url: str | None = None
    message_type: str = "CHAT_MESSAGE"

    @model_validator(mode="after")
    def _mirror_photo(self) -> Message:
        if self.photo and not self.photo_url:
            self.photo_url = self.photo
        elif self.photo_url and not self.photo:
            self.photo = self.photo_url
        return self


class Update(_Model):
    """One event. `event_name` is e.g. `message.text.received`."""

    event_name: str | None = None
    message: Message | None = None

    @property
    def effective_message(self) -> Message | None:
        return self.message

    @property
    def effective_user(self) -> User | None:
        return self.message.from_user if self.message else None

    @property
    def effective_chat(self) -> Chat | None:
        return self.message.chat if self.message else None


class Webhook(_Model):
    url: str = ""
    updated_at: EpochMs = None


def parse_update(payload: dict[str, Any]) -> Update:
    """Parse a getUpdates result or a webhook body.

    Accepts the wrapped `{"ok": true, "result": {...}}` form and the bare
    `{"event_name", "message"}` form. Raises ValueError (pydantic's
    ValidationError is one) for `ok: false` or a malformed body.
    """
    if not isinstance(payload, dict):
        raise ValueError("update payload must be a JSON object")
    if "result" in payload and "message" not in payload:
        if payload.get("ok") is False:
            raise ValueError("update envelope has ok=false")
        inner = payload["result"]
        if not isinstance(inner, dict):
            raise ValueError("update envelope result must be a JSON object")
        return Update.model_validate(inner)
    return Update.model_validate(payload)
