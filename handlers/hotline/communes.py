"""Communes: loading the YAML configuration, finding a commune from what a user
types (fuzzy, diacritics-insensitive), the hotline lookup and the `/start SLUG`
deep-link hook."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import User
from storage.models.hotline import Commune
from storage.repositories import hotline as repo

__all__ = ["CommuneFileError", "find_commune", "fold", "hotline_lookup", "load_communes",
           "load_communes_file", "parse_communes", "resolve_commune"]

# A typed name must be at least this close (0-100) to a commune's name.
MATCH_THRESHOLD = 80
_PREFIXES = ("xa ", "phuong ", "thi tran ", "tp ", "tp. ", "thanh pho ")


class CommuneFileError(ValueError):
    """The communes file is malformed (the message says where)."""


def fold(text: str) -> str:
    text = unicodedata.normalize("NFD", (text or "").casefold()).replace("đ", "d")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.replace("-", " ").replace(".", " ").split())


def _bare(name: str) -> str:
    folded = fold(name)
    for prefix in _PREFIXES:
        if folded.startswith(prefix):
            return folded[len(prefix):]
    return folded


def parse_communes(data: Any) -> list[dict[str, Any]]:
    """Validate the YAML structure; returns the commune dicts ready to upsert."""
    if not isinstance(data, dict) or not isinstance(data.get("communes"), list):
        raise CommuneFileError("the file needs a 'communes:' list")
    default_slug = data.get("default")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(data["communes"], 1):
        if not isinstance(item, dict):
            raise CommuneFileError(f"commune #{i} is not a mapping")
        for key in ("slug", "name", "province"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise CommuneFileError(f"commune #{i}: '{key}' is required")
        slug = item["slug"].strip()
        if slug in seen:
            raise CommuneFileError(f"commune #{i}: duplicate slug {slug!r}")
        seen.add(slug)
        villages = item.get("villages") or []
        if not isinstance(villages, list) or not all(isinstance(v, str) for v in villages):
            raise CommuneFileError(f"commune {slug}: 'villages' must be a list of names")
        hotline = item.get("hotline")
        fields = {
            "slug": slug,
            "name": item["name"].strip(),
            "province": item["province"].strip(),
            "former_district": (item.get("former_district") or None),
            "hotline": str(hotline).strip() if hotline else None,
            "villages": [v.strip() for v in villages if v.strip()],
            "is_default": slug == default_slug or bool(item.get("default")),
        }
        if item.get("group_chat_id"):
            fields["group_channel"] = str(item.get("group_channel") or "telegram")
            fields["group_chat_id"] = str(item["group_chat_id"])
        out.append(fields)
    if default_slug and default_slug not in seen:
        raise CommuneFileError(f"default {default_slug!r} is not one of the communes")
    return out


async def load_communes(session: AsyncSession, data: Any, *, now: datetime) -> tuple[int, int]:
    """Upsert the communes; returns (created, updated)."""
    created = updated = 0
    rows = parse_communes(data)
    if any(r["is_default"] for r in rows):
        for existing in await repo.communes(session):
            existing.is_default = False
    for fields in rows:
        _, new = await repo.upsert_commune(session, now=now, **fields)
        created += int(new)
        updated += int(not new)
    return created, updated


async def load_communes_file(session: AsyncSession, path: Path, *, now: datetime) -> tuple[int, int]:
    # A small admin file read once: reading it synchronously is fine.
    raw = Path(path).read_text(encoding="utf-8")  # noqa: ASYNC240
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise CommuneFileError(f"not valid YAML: {exc}") from None
    return await load_communes(session, data, now=now)


async def find_commune(session: AsyncSession, text: str) -> Commune | None:
    """By slug, else by name: exact (folded), then fuzzy above the threshold."""
    text = (text or "").strip()
    if not text:
        return None
    by_slug = await repo.commune_by_slug(session, slug=text.lower())
    if by_slug is not None:
        return by_slug
    rows = [c for c in await repo.communes(session) if not c.is_default]
    if not rows:
        return None
    wanted = _bare(text)
    names = {c.id: _bare(c.name) for c in rows}
    for c in rows:
        if names[c.id] == wanted or fold(c.slug.replace("-", " ")) == wanted:
            return c
    best = process.extractOne(wanted, names, scorer=fuzz.WRatio, score_cutoff=MATCH_THRESHOLD)
    if best is None:
        return None
    return next(c for c in rows if c.id == best[2])


async def resolve_commune(session: AsyncSession, text: str) -> Commune | None:
    """A commune for a deep link or a typed name; unknown -> the default queue."""
    return await find_commune(session, text) or await repo.default_commune(session)


async def hotline_lookup(session: AsyncSession, user: User) -> tuple[str, str] | None:
    """services.extras["hotline_lookup"]: the user's commune line, else the default queue's."""
    commune = None
    if user.commune_slug:
        commune = await repo.commune_by_slug(session, slug=user.commune_slug)
    if commune is None or not commune.hotline:
        commune = await repo.default_commune(session)
    if commune is None or not commune.hotline:
        return None
    return commune.name, commune.hotline
