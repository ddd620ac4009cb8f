"""outbox: index per chat, for in-order delivery checks

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-23
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("outbox_order",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_chat", "outbox", ["channel", "chat_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_outbox_chat", table_name="outbox")
