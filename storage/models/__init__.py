"""All ORM models; importing this package registers every table on Base.metadata."""

from storage.models import campaigns, feedback, hotline, plans  # noqa: F401  (register tables)
from storage.models.base import Base, JSONType, UTCDateTime, utcnow
from storage.models.core import ChatMenu, Conversation, OutboxMessage, ProcessedUpdate, User

__all__ = [
    "Base",
    "ChatMenu",
    "Conversation",
    "JSONType",
    "OutboxMessage",
    "ProcessedUpdate",
    "UTCDateTime",
    "User",
    "utcnow",
]
