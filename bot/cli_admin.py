"""Hotline administration commands for `bvte`:

  bvte commune load FILE
  bvte officer invite --commune SLUG --role officer|supervisor|province
  bvte cases purge --closed-before DATE
  bvte stats --from DATE --to DATE [--commune SLUG] [--xlsx FILE] [--png FILE]

Each opens its own engine on BVTE_DATABASE_URL, applies the migrations first and
takes "now" from bot.runtime (the simulator's clock inside `bvte sim`)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from bot.cli_support import now as _now
from bot.cli_support import run_in_transaction as _run

__all__ = ["register"]

T = TypeVar("T")

commune_app = typer.Typer(help="Xã, phường / communes.", no_args_is_help=True)
officer_app = typer.Typer(help="Cán bộ / officers.", no_args_is_help=True)
cases_app = typer.Typer(help="Ca báo tin / hotline cases.", no_args_is_help=True)


def _local_midnight(day: date, timezone: str) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone))


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        typer.echo(f"{option}: không phải ngày YYYY-MM-DD / not a YYYY-MM-DD date: {value}", err=True)
        raise typer.Exit(2) from None


@commune_app.command("load")
def commune_load(
    file: Annotated[Path, typer.Argument(help="YAML file (see examples/communes.yaml).")],
) -> None:
    """Nạp danh sách xã từ tệp YAML / load communes from a YAML file."""
    from handlers.hotline.communes import CommuneFileError, load_communes_file

    if not file.exists():
        typer.echo(f"không thấy tệp / no such file: {file}", err=True)
        raise typer.Exit(2)

    async def work(session, settings) -> tuple[int, int]:
        return await load_communes_file(session, file, now=_now())

    try:
        created, updated = _run(work)
    except CommuneFileError as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"communes: {created} created, {updated} updated")


@officer_app.command("invite")
def officer_invite(
    commune: Annotated[str, typer.Option("--commune", help="Commune slug, e.g. quan-son.")],
    role: Annotated[str, typer.Option("--role", help="officer | supervisor | province")] = "officer",
    days: Annotated[float | None, typer.Option("--days", help="Valid for N days (default 7).")] = None,
) -> None:
    """Tạo mã mời một lần cho cán bộ / print a one-time invite code (first line: the code)."""
    from handlers.hotline.cases import ROLES
    from handlers.hotline.codes import new_invite_code
    from handlers.hotline.timelimits import HotlineConfig
    from storage.models.hotline import InviteCode
    from storage.repositories import hotline as repo

    if role not in ROLES:
        typer.echo(f"--role must be one of {', '.join(ROLES)}", err=True)
        raise typer.Exit(2)
    ttl = timedelta(days=days) if days else HotlineConfig.from_env().invite_ttl

    async def work(session, settings) -> tuple[str, datetime, str] | None:
        row = await repo.commune_by_slug(session, slug=commune)
        if row is None:
            return None
        now = _now()
        for _ in range(20):
            code = new_invite_code()
            if await repo.invite_by_code(session, code=code) is None:
                break
        session.add(InviteCode(code=code, commune_id=row.id, role=role, created_at=now,
                               expires_at=now + ttl))
        return code, now + ttl, row.name

    result = _run(work)
    if result is None:
        typer.echo(f"không có xã / unknown commune: {commune} (bvte commune load FILE)", err=True)
        raise typer.Exit(1)
    code, expires, name = result
    typer.echo(code)
    typer.echo(f"{role} of {name}; expires {expires.isoformat(timespec='minutes')}. "
               f"The officer sends: /dangky {code}")


@cases_app.command("purge")
def cases_purge(
    closed_before: Annotated[str, typer.Option("--closed-before", help="YYYY-MM-DD (local date).")],
) -> None:
    """Xóa dữ liệu cá nhân của ca đã đóng / delete closed cases' personal data (statistics kept)."""
    from handlers.hotline.cases import purge_closed

    day = _parse_date(closed_before, "--closed-before")

    async def work(session, settings) -> int:
        return await purge_closed(session, before=_local_midnight(day, settings.timezone),
                                  now=_now())

    n = _run(work)
    typer.echo(f"purged personal data of {n} closed case(s)")


def stats_command(
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    date_to: Annotated[str, typer.Option("--to", help="Last day (included), YYYY-MM-DD.")],
    commune: Annotated[str | None, typer.Option("--commune", help="Only this commune (slug).")] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="Write an XLSX workbook here.")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write a PNG chart here.")] = None,
) -> None:
    """Thống kê tin báo / case statistics (XLSX, PNG and a summary)."""
    from handlers.hotline.stats import compute_stats, summary_text, write_png, write_xlsx
    from handlers.hotline.timelimits import HotlineConfig
    from storage.repositories import hotline as repo

    first = _parse_date(date_from, "--from")
    last = _parse_date(date_to, "--to")
    if last < first:
        typer.echo("--to is before --from", err=True)
        raise typer.Exit(2)

    async def work(session, settings):
        ids = None
        if commune:
            row = await repo.commune_by_slug(session, slug=commune)
            if row is None:
                return None
            ids = [row.id]
        config = HotlineConfig.from_env(timezone=settings.timezone)
        start = _local_midnight(first, settings.timezone)
        end = _local_midnight(last + timedelta(days=1), settings.timezone)
        return await compute_stats(session, start=start, end=end, commune_ids=ids,
                                   config=config, now=_now()), config

    result = _run(work)
    if result is None:
        typer.echo(f"không có xã / unknown commune: {commune}", err=True)
        raise typer.Exit(1)
    stats, config = result
    if xlsx is not None:
        write_xlsx(stats, xlsx, config=config)
    if png is not None:
        write_png(stats, png)
    typer.echo(summary_text(stats))
    for path in (xlsx, png):
        if path is not None:
            typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(commune_app, name="commune")
    app.add_typer(officer_app, name="officer")
    app.add_typer(cases_app, name="cases")
    app.command("stats")(stats_command)
