"""`bvte campaign …`: create, schedule and follow safety campaigns.

  bvte campaign create NAME --entries id1,id2 --communes a,b|all [--title T]
  bvte campaign create --from-file handlers/campaigns_data/duoi-nuoc-mua-he.yaml
  bvte campaign schedule NAME --start 2027-05-05T20:00+07:00 --every P7D
  bvte campaign status NAME
  bvte campaign list | stop NAME

Each opens its own engine on BVTE_DATABASE_URL, applies the migrations first and
takes "now" from bot.runtime (the simulator's clock inside `bvte sim`)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
import yaml

from bot.cli_support import now as _now
from bot.cli_support import run_in_transaction as _run

__all__ = ["campaign_app", "load_campaign_file", "next_occurrence"]

T = TypeVar("T")

campaign_app = typer.Typer(
    help="Chiến dịch truyền thông an toàn cho trẻ / safety campaigns.", no_args_is_help=True
)

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def _fail(vi: str, en: str) -> typer.Exit:
    typer.echo(f"Lỗi: {vi} / Error: {en}", err=True)
    return typer.Exit(code=2)


def _kb(locale: str):
    from knowledge.loader import load_knowledge_base

    return load_knowledge_base(locale=locale)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parse_every(value: str) -> timedelta:
    from bot.sim import parse_duration

    try:
        every = parse_duration(value)
    except ValueError:
        raise _fail(f"--every không phải khoảng thời gian ISO-8601 (ví dụ P7D): {value}",
                    f"--every is not an ISO-8601 duration (e.g. P7D): {value}") from None
    if every < timedelta(hours=1):
        raise _fail("--every phải từ một giờ trở lên", "--every must be at least an hour")
    return every


def _parse_start(value: str) -> datetime:
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"--start không phải thời điểm ISO-8601: {value}",
                    f"--start is not an ISO-8601 time: {value}") from None
    if start.tzinfo is None:
        raise _fail("--start cần múi giờ, ví dụ 2027-05-05T20:00+07:00",
                    "--start needs a UTC offset, e.g. 2027-05-05T20:00+07:00")
    return start


def next_occurrence(month: int, day: int, at: str, *, now: datetime, timezone: str) -> datetime:
    """The next `day/month at HH:MM` local time strictly after `now` (yearly campaigns)."""
    hour, minute = (int(x) for x in at.split(":", 1))
    local_now = now.astimezone(ZoneInfo(timezone))
    for year in (local_now.year, local_now.year + 1):
        candidate = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(timezone))
        if candidate > local_now:
            return candidate
    raise AssertionError("unreachable")


def load_campaign_file(path: Path) -> dict[str, Any]:
    """Read and check a campaign file (see handlers/campaigns_data/*.yaml)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(f"không thấy tệp {path}", f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _fail(f"không đọc được tệp {path}", f"cannot read {path}: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise _fail("tệp chiến dịch phải là một bảng YAML", "a campaign file must be a YAML mapping")
    for key in ("name", "title", "entries"):
        if not data.get(key):
            raise _fail(f"thiếu '{key}'", f"'{key}' is required")
    entries, intros = [], {}
    for item in data["entries"]:
        if isinstance(item, str):
            entries.append(item)
        elif isinstance(item, dict) and isinstance(item.get("id"), str):
            entries.append(item["id"])
            if item.get("intro"):
                intros[item["id"]] = str(item["intro"]).strip()
        else:
            raise _fail("mỗi mục trong 'entries' là một id hoặc {id, intro}",
                        "each of 'entries' is an id or {id, intro}")
    communes = data.get("communes", "all")
    communes = _split(communes) if isinstance(communes, str) else [str(c) for c in communes]
    return {
        "name": str(data["name"]), "title": str(data["title"]), "entries": entries,
        "intros": intros, "communes": communes, "every": data.get("every"),
        "season": data.get("season"),
    }


async def _check_and_create(session, settings, spec: dict[str, Any]) -> str:
    from handlers.campaigns import render_step
    from storage.models.campaigns import Campaign
    from storage.repositories import campaigns as repo

    if not _NAME.match(spec["name"]):
        raise _fail("tên chỉ gồm chữ thường không dấu, số và '-'",
                    "NAME is lowercase ascii letters, digits and '-'")
    if await repo.campaign_by_name(session, name=spec["name"]) is not None:
        raise _fail(f"đã có chiến dịch {spec['name']}", f"campaign {spec['name']} already exists")
    kb = _kb(settings.locale)
    missing = [e for e in spec["entries"] if e not in kb.by_id]
    if missing:
        raise _fail(f"không có trong cơ sở kiến thức: {', '.join(missing)}",
                    f"not in the knowledge base: {', '.join(missing)}")
    if not spec["communes"]:
        raise _fail("cần --communes (danh sách slug hoặc all)", "--communes is required (slugs or all)")
    unknown = await _unknown_communes(session, spec["communes"])
    if unknown:
        raise _fail(f"không có xã: {', '.join(unknown)}", f"unknown communes: {', '.join(unknown)}")
    campaign = await repo.create_campaign(
        session, name=spec["name"], title=spec["title"], entries=spec["entries"],
        communes=spec["communes"], intros=spec.get("intros"), now=_now(),
    )
    # A dry render catches a broken intro or phrase now, not on the day.
    for step in range(len(campaign.entries)):
        render_step(campaign, step, kb, settings.locale)
    lines = [f"Đã tạo chiến dịch {campaign.name}: {len(campaign.entries)} tin / "
             f"created campaign {campaign.name}: {len(campaign.entries)} messages"]
    every = _parse_every(str(spec["every"])) if spec.get("every") else None
    season = spec.get("season")
    if every is not None and isinstance(season, dict):
        start = next_occurrence(
            int(season["month"]), int(season["day"]), str(season.get("time", "20:00")),
            now=_now(), timezone=settings.timezone,
        )
        lines.append(_schedule(campaign, start, every))
    assert isinstance(campaign, Campaign)
    return "\n".join(lines)


async def _unknown_communes(session, slugs: list[str]) -> list[str]:
    from sqlalchemy import select

    from storage.models.hotline import Commune
    from storage.repositories.campaigns import ALL_COMMUNES

    wanted = [s for s in slugs if s != ALL_COMMUNES]
    if not wanted:
        return []
    known = set((await session.scalars(select(Commune.slug).where(Commune.slug.in_(wanted)))).all())
    return [s for s in wanted if s not in known]


def _schedule(campaign, start: datetime, every: timedelta) -> str:
    campaign.start_at = start
    campaign.interval_seconds = int(every.total_seconds())
    campaign.next_at = start + every * campaign.step
    if campaign.status in ("draft", "stopped", "scheduled"):
        campaign.status = "scheduled"
    campaign.updated_at = _now()
    return (f"Lịch: từ {start.isoformat()}, mỗi {_human(every)} một tin / "
            f"schedule: from {start.isoformat()}, one message every {_human(every)}")


def _human(every: timedelta) -> str:
    days = every.total_seconds() / 86400
    return f"{days:g} ngày/days" if days >= 1 else f"{every.total_seconds() / 3600:g} giờ/hours"


@campaign_app.command("create")
def create(
    name: Annotated[str | None, typer.Argument(help="Tên ngắn, ví dụ duoi-nuoc-2027.")] = None,
    entries: Annotated[str | None, typer.Option("--entries", help="id1,id2,… trong cơ sở kiến thức.")] = None,
    communes: Annotated[str, typer.Option("--communes", help="slug1,slug2 hoặc all.")] = "all",
    title: Annotated[str | None, typer.Option("--title", help="Tiêu đề hiện trên mỗi tin.")] = None,
    from_file: Annotated[Path | None, typer.Option("--from-file", help="Tệp YAML chiến dịch.")] = None,
) -> None:
    """Tạo chiến dịch / create a campaign (from options or a YAML file)."""
    if from_file is not None:
        spec = load_campaign_file(from_file)
        if name:
            spec["name"] = name
    else:
        if not name or not entries:
            raise _fail("cần NAME và --entries (hoặc --from-file)", "give NAME and --entries (or --from-file)")
        spec = {"name": name, "title": title or name, "entries": _split(entries),
                "communes": _split(communes), "intros": {}}
    typer.echo(_run(lambda session, settings: _check_and_create(session, settings, spec)))


@campaign_app.command("schedule")
def schedule(
    name: Annotated[str, typer.Argument(help="Tên chiến dịch.")],
    start: Annotated[str, typer.Option("--start", help="Tin đầu, ISO 8601 có múi giờ.")],
    every: Annotated[str, typer.Option("--every", help="Khoảng cách giữa hai tin, ví dụ P7D.")] = "P7D",
) -> None:
    """Đặt lịch gửi / schedule a campaign."""
    start_at, interval = _parse_start(start), _parse_every(every)

    async def work(session, settings) -> str:
        from storage.repositories import campaigns as repo

        campaign = await repo.campaign_by_name(session, name=name)
        if campaign is None:
            raise _fail(f"không có chiến dịch {name}", f"no campaign {name}")
        if campaign.status == "done":
            raise _fail(f"chiến dịch {name} đã gửi xong", f"campaign {name} is finished")
        return _schedule(campaign, start_at, interval)

    typer.echo(_run(work))


@campaign_app.command("stop")
def stop(name: Annotated[str, typer.Argument(help="Tên chiến dịch.")]) -> None:
    """Dừng gửi (schedule lại để tiếp tục) / stop sending (schedule again to resume)."""

    async def work(session, settings) -> str:
        from storage.repositories import campaigns as repo

        campaign = await repo.campaign_by_name(session, name=name)
        if campaign is None:
            raise _fail(f"không có chiến dịch {name}", f"no campaign {name}")
        if campaign.status in repo.ACTIVE_STATUSES:
            campaign.status, campaign.updated_at = "stopped", _now()
        return f"{name}: {campaign.status}"

    typer.echo(_run(work))


@campaign_app.command("status")
def status(name: Annotated[str, typer.Argument(help="Tên chiến dịch.")]) -> None:
    """Tình hình gửi / progress of a campaign."""

    async def work(session, settings) -> str:
        from storage.repositories import campaigns as repo

        campaign = await repo.campaign_by_name(session, name=name)
        if campaign is None:
            raise _fail(f"không có chiến dịch {name}", f"no campaign {name}")
        total = len(campaign.entries or [])
        stats = await repo.step_stats(session, campaign_id=campaign.id)
        step = min(campaign.step, max(total - 1, 0))
        owed = await repo.count_targets(session, campaign=campaign, step=step) if total else 0
        lines = [
            f"{campaign.name}: {campaign.title}",
            f"trạng thái / status: {campaign.status}",
            f"tin / messages: {min(campaign.step, total)}/{total} đã xếp hàng xong / fully queued",
            f"xã / communes: {', '.join(campaign.communes)}",
            f"tin kế tiếp / next: {campaign.next_at.isoformat() if campaign.next_at else '-'}",
        ]
        if campaign.status != "done":
            lines.append(f"người nhận còn chờ tin {step + 1} / subscribers owed message {step + 1}: {owed}")
        for number in sorted(stats):
            counts = stats[number]
            detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            lines.append(f"  tin {number + 1} / message {number + 1}: {sum(counts.values())} ({detail})")
        return "\n".join(lines)

    typer.echo(_run(work))


@campaign_app.command("list")
def list_campaigns() -> None:
    """Các chiến dịch / every campaign."""

    async def work(session, settings) -> str:
        from storage.repositories import campaigns as repo

        rows = await repo.campaigns(session)
        if not rows:
            return "Chưa có chiến dịch nào / no campaigns yet"
        return "\n".join(
            f"{c.name}\t{c.status}\t{min(c.step, len(c.entries))}/{len(c.entries)}\t{c.title}"
            for c in rows
        )

    typer.echo(_run(work))
