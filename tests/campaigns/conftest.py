"""Helpers for the campaign tests: communes, subscribers, counting deliveries."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from storage.models.hotline import Commune
from storage.repositories import hotline as hotline_repo

START = datetime(2027, 4, 28, 1, 0, tzinfo=UTC)  # 08:00 in Viet Nam

COMMUNES = [
    {"slug": "ia-grai", "name": "Xã Ia Grai", "province": "Gia Lai"},
    {"slug": "ia-hrung", "name": "Xã Ia Hrung", "province": "Gia Lai"},
]


async def add_communes(app: Any) -> None:
    async with app.uow() as uow:
        for fields in COMMUNES:
            await hotline_repo.upsert_commune(uow.session, now=START, **fields)


async def count(app: Any, model: Any, *where: Any) -> int:
    async with app.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model).where(*where)))


def campaign_texts(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in outputs if "to" in o and o["text"].startswith("📢")]


def per_user(outputs: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """(user, first line of the message) -> times received."""
    return Counter((o["to"], o["text"].split("\n", 1)[0]) for o in campaign_texts(outputs))


__all__ = ["COMMUNES", "Commune", "START", "add_communes", "campaign_texts", "count", "per_user"]
